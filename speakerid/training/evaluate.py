"""Evaluate an encoder on held-out speakers: the reference's figures and the field's standard ones.

Trials are all pairs of test items. A speaker with a single file (LibriSpeech here) has that file
cut into two halves, so that same-speaker trials exist (same session, different words).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..audio import load_audio
from ..calibration_text import (
    ALL_TRIALS,
    AS_NORM_SCORES,
    HELD_OUT,
    IMPOSTOR_TAIL,
    RAW_SCORES,
    SHORT_PROBES,
    THRESHOLD,
    THRESHOLD_SET_BY,
    UNNAMED_CORPUS,
)
from ..datasets import SpeakerSource
from ..errors import SpeakerIDError
from ..i18n import _
from ..preprocess import Prepared, Stage
from ..scoring import (
    Calibration,
    DurationBand,
    ImpostorTail,
    PooledImpostors,
    ScoreNormaliser,
    fit_calibration,
    score_matrix,
)
from .metrics import (
    det_points,
    equal_error_rate,
    false_accept_threshold,
    min_dcf,
    pair_scores,
    precision_recall,
    precision_recall_curve,
)


@dataclass(frozen=True)
class TestItem:
    speaker: str
    name: str
    embedding: np.ndarray
    speech_s: float | None = None  # of the speech it was embedded from


@dataclass
class EvaluationReport:
    speakers: int
    items: int
    same_trials: int
    different_trials: int
    eer: float
    eer_threshold: float
    min_dcf: float
    precision: float
    recall: float
    threshold: float
    same_distance: float
    different_distance: float
    top1_identification: float | None
    precision_recall: list[dict] = field(default_factory=list)
    det: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        top1 = _("n/a") if self.top1_identification is None else f"{100 * self.top1_identification:.1f} %"
        return _("{speakers} speakers, {items} items, {same} same / {different} different trials\n"
                 "EER {eer:.2f} % (threshold {eer_threshold:.3f}), minDCF(0.01) {min_dcf:.3f}\n"
                 "at threshold {threshold:.3f}: precision {precision:.3f}, recall {recall:.3f}\n"
                 "mean distance same {same_distance:.3f}, different {different_distance:.3f}\n"
                 "closed-set top-1 identification {top1}").format(
            speakers=self.speakers, items=self.items, same=self.same_trials, different=self.different_trials,
            eer=100 * self.eer, eer_threshold=self.eer_threshold, min_dcf=self.min_dcf,
            threshold=self.threshold, precision=self.precision, recall=self.recall,
            same_distance=self.same_distance, different_distance=self.different_distance, top1=top1)


def embed_speakers(encoder, speakers: Sequence[SpeakerSource], crop_s: float | None = None,
                   progress: Callable[[int, int], None] | None = None) -> list[TestItem]:
    """Embed every file of every speaker (optionally a ``crop_s`` crop of its speech)."""
    items: list[TestItem] = []
    for done, speaker in enumerate(speakers):
        for name, prepared in _prepared_items(encoder, speaker):
            if crop_s is not None:
                prepared = _centre_crop(prepared, crop_s)
            items.append(TestItem(speaker.name, name, encoder.embed_prepared(prepared), prepared.speech_s))
        if progress:
            progress(done + 1, len(speakers))
    return items


def evaluate_items(items: Sequence[TestItem], scorer, threshold: float | None = None) -> EvaluationReport:
    """All-pairs verification figures and closed-set identification over embedded items.

    ``scorer`` has ``metric`` and ``score_matrix(a, b)``: an :class:`~speakerid.Encoder` (which
    applies its score normalisation) or a :class:`~speakerid.scoring.RawScorer`. Distances, the
    reference's figures, are always the raw ones.
    """
    labels = np.array([item.speaker for item in items])
    if len(set(labels)) < 2:
        raise SpeakerIDError(_("evaluation needs at least two speakers"))
    vectors = np.stack([i.embedding for i in items])
    matrix = scorer.score_matrix(vectors, vectors)
    scores, same = pair_scores(matrix, labels)
    eer, eer_threshold = equal_error_rate(scores, same)
    threshold = eer_threshold if threshold is None else threshold
    precision, recall = precision_recall(scores, same, threshold)
    distances = as_distance(pair_scores(score_matrix(vectors, vectors, scorer.metric), labels)[0],
                            scorer.metric)
    return EvaluationReport(
        speakers=len(set(labels)), items=len(items), same_trials=int(same.sum()),
        different_trials=int((~same).sum()), eer=eer, eer_threshold=eer_threshold,
        min_dcf=min_dcf(scores, same)[0], precision=precision, recall=recall, threshold=threshold,
        same_distance=float(distances[same].mean()), different_distance=float(distances[~same].mean()),
        top1_identification=top1_identification(matrix, labels),
        precision_recall=precision_recall_curve(scores, same), det=det_points(scores, same))


def fit_scoring(encoder, cohort_speakers: Sequence[SpeakerSource],
                calibration_speakers: Sequence[SpeakerSource], cohort_size: int = 300,
                seed: int = 0) -> list[TestItem]:
    """Give ``encoder`` an AS-norm cohort (training speakers) and a calibration fitted on the
    normalised scores of held-out speakers. Returns the held-out items for a report."""
    rng = np.random.default_rng(seed)
    pool = list(cohort_speakers)
    if len(pool) > cohort_size // 2:
        pool = [pool[i] for i in sorted(rng.choice(len(pool), cohort_size // 2, replace=False))]
    cohort = [item.embedding for item in embed_speakers(encoder, [_first_file(s) for s in pool])]
    encoder.normaliser = ScoreNormaliser(np.stack(cohort), encoder.metric) if len(cohort) >= 2 else None
    items = embed_speakers(encoder, calibration_speakers)
    norm = RAW_SCORES.write()
    if encoder.normaliser is not None:
        norm = AS_NORM_SCORES.write(top_k=encoder.normaliser.top_k, cohort=len(cohort))
    description = HELD_OUT.write(norm=norm)
    full = calibrate(items, encoder, description)
    encoder.calibration = dataclasses.replace(
        full, bands=duration_bands(encoder, calibration_speakers, items, description))
    return items


# Identifying against a gallery of N voices gives a voice nobody enrolled N chances to pass the
# threshold, so a threshold at the equal-error rate (often 5-10 % false accepts per trial) would
# name a wrong person almost every time. Per trial, a wrong name must be rare.
FALSE_ACCEPT_TARGET = 0.01


def calibrate(items: Sequence[TestItem], scorer, description: str,
              false_accepts: float = FALSE_ACCEPT_TARGET) -> Calibration:
    """Threshold where ``false_accepts`` of held-out different-speaker trials pass, and a logistic
    score-to-probability map, from all pairs of held-out items."""
    labels = np.array([item.speaker for item in items])
    vectors = np.stack([i.embedding for i in items])
    scores, same = pair_scores(scorer.score_matrix(vectors, vectors), labels)
    rows, cols = np.triu_indices(len(items), k=1)
    kept = same | same_corpus(labels[rows], labels[cols])
    return calibration_from_trials(scores[kept], same[kept], description, len(set(labels)), false_accepts,
                                   corpus_of(labels[rows][kept]))


def same_corpus(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether speakers come from the same dataset folder (``folder/speaker`` names, as
    :func:`speakerid.training.train.collect_speakers` gives them with several folders).

    Calibration counts only different-speaker trials within a corpus: the voices a gallery must
    tell apart come through the same channels (a newsroom's clips are all web and TV audio), and
    a telephone call against an audiobook is an easy "different" that would make the threshold
    look stricter than it is (it let 8.9 % of held-out Hyke call pairs through at a nominal 1 %).
    """
    return corpus_of(a) == corpus_of(b)


def corpus_of(speakers: np.ndarray) -> np.ndarray:
    """The dataset folder of each ``folder/speaker`` name ("" for a bare name)."""
    return np.char.rpartition(np.asarray(speakers).astype(str), "/")[..., 0]


def calibration_from_trials(scores: np.ndarray, same: np.ndarray, description: str, speakers: int,
                            false_accepts: float = FALSE_ACCEPT_TARGET,
                            corpora: np.ndarray | None = None,
                            prior: PooledImpostors | None = None) -> Calibration:
    """:func:`calibrate` on given trials (``same``: True where both sides are one speaker).

    ``corpora`` names each trial's corpus: the threshold is then the strictest of the corpora's
    (each with enough different-speaker trials to place it), so that it holds in every channel
    measured rather than on their average: telephone voices, all alike through one narrow band,
    let more impostors through at a threshold that suits studio speech.

    ``prior``: the different-speaker trials are pooled with another calibration's impostor tail
    before the threshold is placed (a gallery's refit on few speakers, :class:`PooledImpostors`).
    """
    if prior is None:
        threshold = false_accept_threshold(scores, same, false_accepts)[0]
    else:
        threshold = prior.threshold(scores[~same], false_accepts)
    strictest = ALL_TRIALS
    for corpus in sorted(set(corpora.tolist())) if corpora is not None else []:
        impostors = (corpora == corpus) & ~same  # the threshold depends on these alone
        if impostors.sum() >= MIN_DIFFERENT_TRIALS_PER_CORPUS:
            candidate = false_accept_threshold(scores[same | impostors], same[same | impostors],
                                               false_accepts)[0]
            if candidate > threshold:
                threshold, strictest = candidate, corpus or UNNAMED_CORPUS
    accepted = scores >= threshold
    false_accept_rate, miss_rate = float(accepted[~same].mean()), float((~accepted[same]).mean())
    eer, _threshold = equal_error_rate(scores, same)
    method = THRESHOLD.write(
        set_by=THRESHOLD_SET_BY.write(description=description, false_accepts=false_accepts,
                                      strictest=strictest),
        false_accept_rate=false_accept_rate, miss_rate=miss_rate, eer=eer, same=int(same.sum()),
        different=int((~same).sum()), speakers=speakers)
    calibration = fit_calibration(scores[same], scores[~same], method, threshold, eer=eer,
                                  false_accept_rate=false_accept_rate, miss_rate=miss_rate)
    tail = ImpostorTail.fit(scores[~same])
    if tail is None:
        return calibration
    return dataclasses.replace(calibration, tail=tail,
                               method=IMPOSTOR_TAIL.write(method=calibration.method, share=tail.share))


MIN_DIFFERENT_TRIALS_PER_CORPUS = 100  # fewer cannot place a 1 % threshold


# Probe lengths the app meets: timeline windows (3 s), live buffers (6 s), short uploads (12 s).
# Each band serves probes up to the geometric mean of its length and the next one's.
CALIBRATION_PROBES_S = (3.0, 6.0, 12.0)


def duration_bands(encoder, speakers: Sequence[SpeakerSource], enrolled: Sequence[TestItem],
                   description: str) -> tuple[DurationBand, ...]:
    """A calibration per probe length, fitted on the comparison the app makes: a centre crop of
    one recording against the speaker's other (whole) recordings, and everyone else's."""
    probes = {probe_s: embed_speakers(encoder, speakers, crop_s=probe_s) for probe_s in CALIBRATION_PROBES_S}
    return bands_from_probes(encoder, probes, enrolled, description)


def bands_from_probes(scorer, probes: dict[float, Sequence[TestItem]], enrolled: Sequence[TestItem],
                      description: str) -> tuple[DurationBand, ...]:
    """:func:`duration_bands` on probes already embedded: centre crops of each length in
    :data:`CALIBRATION_PROBES_S`, keyed by it."""
    bands = []
    lengths = [*CALIBRATION_PROBES_S, None]
    for probe_s, next_s in zip(lengths, lengths[1:]):
        scores, same, corpora = probe_trials(scorer, probes[probe_s], enrolled)
        calibration = calibration_from_trials(
            scores, same, SHORT_PROBES.write(description=description, probe_s=probe_s),
            len({item.speaker for item in probes[probe_s]}), corpora=corpora)
        up_to = np.sqrt(probe_s * next_s) if next_s else 1.5 * probe_s
        bands.append(DurationBand(float(round(up_to, 2)), calibration))
    return tuple(bands)


def probe_trials(scorer, probes: Sequence[TestItem], enrolled: Sequence[TestItem]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores of every probe against every enrolled item from another recording (of the same
    corpus, see :func:`same_corpus`), which are same-speaker trials, and each trial's corpus."""
    matrix = scorer.score_matrix(np.stack([p.embedding for p in probes]),
                                 np.stack([e.embedding for e in enrolled]))
    probe_keys = [(p.speaker, p.name) for p in probes]
    enrolled_keys = [(e.speaker, e.name) for e in enrolled]
    valid = np.array([[pk != ek for ek in enrolled_keys] for pk in probe_keys])
    same = np.array([[pk[0] == ek[0] for ek in enrolled_keys] for pk in probe_keys])
    probe_speakers = np.array([p.speaker for p in probes])[:, None]
    valid &= same | same_corpus(probe_speakers, np.array([e.speaker for e in enrolled])[None, :])
    corpora = np.broadcast_to(corpus_of(probe_speakers), valid.shape)
    return matrix[valid], same[valid], corpora[valid]


def top1_identification(matrix: np.ndarray, labels: np.ndarray) -> float | None:
    """Enrol each speaker from its first item; identify every other item among them."""
    enrolled: dict[str, int] = {}
    for index, label in enumerate(labels):
        enrolled.setdefault(label, index)
    gallery = np.array(list(enrolled.values()))
    tests = np.array([i for i in range(len(labels)) if i not in set(gallery)])
    if len(tests) == 0:
        return None
    best = gallery[np.argmax(matrix[np.ix_(tests, gallery)], axis=1)]
    return float(np.mean(labels[best] == labels[tests]))


def as_distance(scores: np.ndarray, metric: str) -> np.ndarray:
    """The reference reports distances: Euclidean, or cosine distance (1 - cosine)."""
    return -scores if metric == "euclidean" else 1.0 - scores


def _prepared_items(encoder, speaker: SpeakerSource):
    """(name, Prepared) per usable file; a lone file is split into two halves."""
    prepared = []
    for path in speaker.files:
        try:
            prepared.append((Path(path).name, encoder.prepare(load_audio(path))))
        except SpeakerIDError:
            continue  # silent or unreadable file: not a trial
    if len(prepared) == 1:
        name, whole = prepared[0]
        half = len(whole.signal) // 2
        return [(f"{name}#a", _with_signal(whole, whole.signal[:half])),
                (f"{name}#b", _with_signal(whole, whole.signal[half:]))]
    return prepared


def _first_file(speaker: SpeakerSource) -> SpeakerSource:
    return dataclasses.replace(speaker, files=speaker.files[:1])


def _centre_crop(prepared: Prepared, seconds: float) -> Prepared:
    size = int(seconds * prepared.sample_rate)
    start = max(0, (len(prepared.signal) - size) // 2)
    return _with_signal(prepared, prepared.signal[start:start + size])


def _with_signal(prepared: Prepared, signal: np.ndarray) -> Prepared:
    last = prepared.stages[-1]
    return Prepared([*prepared.stages[:-1], Stage(last.name, signal, last.sample_rate, last.note)])
