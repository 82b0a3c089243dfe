"""How the archive names its turns (speakerid.archive.labels.label_turns), on made-up embeddings:
a voice linked across recordings names its turns as a whole, unless a turn's own audio says
otherwise."""

from types import SimpleNamespace

import numpy as np

from speakerid.archive.labels import label_turns
from speakerid.archive.store import TurnTable
from speakerid.gallery import EnrolledCentroids
from speakerid.scoring import Calibration, score_matrix, unit

ANN, BEN, OTHER = np.eye(3)
# cosine scores: 0.5 and above name a person (probability 0.5 there, 0.99 at 0.96)
CALIBRATION = Calibration(threshold=0.5, slope=10.0, offset=-5.0)
MODEL = SimpleNamespace(metric="cosine", normaliser=None,
                        score_matrix=lambda a, b, *statistics: score_matrix(a, b, "cosine"))


def turns_of(*embeddings: np.ndarray, voice: int = 7) -> TurnTable:
    """Turns of 5 s, one after another in one recording, all of one archive voice."""
    count = len(embeddings)
    starts = np.arange(count, dtype=np.float64) * 6.0
    return TurnTable(np.arange(count), np.zeros(count, np.int64), np.full(count, voice), starts, starts + 5.0,
                     np.full(count, 5.0), np.stack([unit(e) for e in embeddings]).astype(np.float16), None)


def labels(turns: TurnTable, voice_centroid: np.ndarray, enrolled: list[tuple[str, np.ndarray]]):
    gallery = EnrolledCentroids([name for name, _ in enrolled], np.stack([e for _, e in enrolled]), None,
                                CALIBRATION)
    return label_turns(turns, np.array([7]), unit(voice_centroid)[None].astype(np.float32),
                       np.array([turns.speech.sum()]), gallery, MODEL)


def named(result) -> list[str | None]:
    return [result.speaker_of(row) for row in range(len(result.speaker))]


def test_a_named_voice_names_its_turns_even_those_too_short_to_name_on_their_own():
    weak = turns_of(ANN, unit(0.45 * ANN + OTHER))  # the second alone scores 0.41: under the threshold
    result = labels(weak, ANN, [("Ann", ANN)])
    assert named(result) == ["Ann", "Ann"] and result.voice_speaker == {7: 0}
    assert result.probability[1] == result.probability[0]  # the voice's probability, not its own


def test_a_turn_whose_own_audio_names_someone_else_keeps_its_own_verdict():
    """Two similar people linked into one archive voice: once both are enrolled, each turn is
    named after the person its own audio names, not after the one the pooled voice resembles most."""
    turns = turns_of(unit(ANN + 0.2 * BEN), unit(BEN + 0.5 * ANN), unit(ANN + 0.1 * BEN))
    voice = unit(ANN + 0.6 * BEN)  # the pooled voice: mostly Ann
    assert named(labels(turns, voice, [("Ann", ANN)])) == ["Ann", "Ann", "Ann"]
    assert named(labels(turns, voice, [("Ann", ANN), ("Ben", BEN)])) == ["Ann", "Ben", "Ann"]


def test_a_turn_its_voice_names_keeps_the_voice_unless_its_own_audio_rules_that_person_out():
    turns = turns_of(ANN, ANN, OTHER)  # the third: nothing like Ann (probability under TURN_VETO)
    assert named(labels(turns, unit(2 * ANN + 0.5 * OTHER), [("Ann", ANN)])) == ["Ann", "Ann", None]
