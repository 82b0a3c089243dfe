"""The archive: recordings indexed once, then searched, listed and named without the model.

:class:`Archive` joins the pieces: :mod:`.sources` (inputs to files with a hash), an engine
(:mod:`.engines`: the model work), :mod:`.linking` (voices across recordings), :mod:`.store` (the
SQLite file) and :mod:`.labels` (names from the gallery at query time). Only this object writes
the archive; a recording goes in whole (its turns and voices in one transaction) or not at all.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import paths
from ..errors import SpeakerIDError
from ..fetch import DEFAULT_LIMITS, DownloadProgress, FetchLimits, is_link
from ..gallery import clean_name
from ..gallery.names import not_enrolled
from ..gallery.rows import MIN_NEW_SPEAKER_SPEECH_S
from ..i18n import _
from ..inputs import Input, expand, label
from ..voice_labels import VOICE_PREFIX, typed_voice
from .engines import Engine, Job, LocalEngine
from .indexer import IndexedRecording
from .labels import Labels, label_turns
from .linking import link_voices
from .sources import Media, cut_audio, file_hash, resolve
from .store import ArchiveStore, NewTurn, RecordingRow, TurnTable
from .turn_cache import load_turns

if TYPE_CHECKING:
    from ..audio import AudioClip
    from ..gallery import EnrolledCentroids, Gallery, SpeakerInfo
    from ..longform import StageProgress
    from ..models.scorer import ModelScoring

ARCHIVE_FILE = "archive.sqlite"
MEDIA_FOLDER = "media"
CACHE_FOLDER = "cache"  # derived: see turn_cache.py
ENROL_MIN_TURN_S = 2.0  # shorter turns are not used to enrol a voice
ENROL_TARGET_S = 40.0  # a voice is enrolled from its best turns up to this much speech
ENROL_MAX_CLIPS = 8
Progress = Callable[[int, int, str], None]
"""``progress(done, total, current)``: recordings done of total, and the one being worked on."""


def default_archive_dir() -> Path:
    """``archive/`` in the app's home, next to the gallery."""
    return paths.home() / "archive"


@dataclass(frozen=True)
class Hit:
    """A turn where an enrolled person speaks; ``recording`` is the path or link as added."""

    recording: str
    title: str
    start_s: float
    end_s: float
    speaker: str
    probability: float

    def to_dict(self) -> dict:
        return {"recording": self.recording, "title": self.title, "start_s": round(self.start_s, 2),
                "end_s": round(self.end_s, 2), "speaker": self.speaker,
                "probability": round(self.probability, 4)}


@dataclass(frozen=True)
class TurnRef:
    recording: str
    start_s: float
    end_s: float

    def to_dict(self) -> dict:
        return {"recording": self.recording, "start_s": round(self.start_s, 2), "end_s": round(self.end_s, 2)}


@dataclass(frozen=True)
class ArchiveVoice:
    """A voice nobody enrolled, linked across recordings: ``voice`` is its label ("Voice 17")."""

    voice: str
    recordings: list[str]
    seconds: float  # of speech, summed over its turns
    turns: list[TurnRef]

    def to_dict(self) -> dict:
        return {"voice": self.voice, "recordings": self.recordings, "seconds": round(self.seconds, 2),
                "turns": [t.to_dict() for t in self.turns]}


@dataclass(frozen=True)
class TimelineTurn:
    """One turn of a recording as it reads today: an enrolled name, else its archive voice."""

    start_s: float
    end_s: float
    speaker: str | None  # the enrolled person, None when nobody enrolled matches
    voice: str | None  # the archive voice ("Voice 17") it is linked to, None when too short for one
    probability: float | None  # that ``speaker`` speaks; None when nobody enrolled is named (a
    # voice nobody enrolled is no enrolled person's "3 %": see speakerid/voices.py)

    @property
    def label(self) -> str | None:
        return self.speaker if self.speaker is not None else self.voice

    def to_dict(self) -> dict:
        return {"start_s": round(self.start_s, 2), "end_s": round(self.end_s, 2), "speaker": self.speaker,
                "voice": self.voice,
                "probability": None if self.probability is None else round(self.probability, 4)}


@dataclass(frozen=True)
class Summary:
    """What the archive holds (for the model in use)."""

    recordings: int
    hours: float
    speech_hours: float
    turns: int
    named_share: float  # of the turns' speech, the share an enrolled person is named in
    voices: int  # unnamed archive voices
    other_model: int  # recordings indexed by another model, left out until re-added


@dataclass
class AddReport:
    """What ``add`` did with each input: added, already there, or failed (one sentence each)."""

    added: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    reindexed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


class Archive:
    """Recordings indexed by a model, searched against ``gallery``'s enrolment as it is now.

    ``gallery.encoder`` is the model: a full encoder to add recordings and to name voices, or a
    :class:`~speakerid.models.scorer.ScoringModel` (see :func:`open_for_search`) for everything
    else, which then needs no TensorFlow. One object per process and thread.
    """

    def __init__(self, folder: str | Path | None = None, gallery: Gallery | None = None) -> None:
        from ..gallery import Gallery

        self.folder = Path(folder) if folder is not None else default_archive_dir()
        self.gallery = gallery if gallery is not None else Gallery()
        self.store = ArchiveStore(self.folder / ARCHIVE_FILE)
        self._turns: tuple[tuple, TurnTable] | None = None
        self._labels: tuple[tuple, EnrolledCentroids, Labels] | None = None

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def model(self) -> ModelScoring:
        return self.gallery.encoder

    @property
    def model_id(self) -> str:
        return self.gallery.encoder.encoder_id

    # --- adding -------------------------------------------------------------------------------
    def add(self, inputs: Sequence[Input], engine: Engine | None = None, progress: Progress | None = None,
            stage_progress: StageProgress | None = None, limits: FetchLimits = DEFAULT_LIMITS,
            download_progress: DownloadProgress | None = None) -> AddReport:
        """Index files, folders (recursively), links and uploads; first re-index what another model
        indexed. A known input (same content, or same link, for this model) costs no model work.
        Each input that fails is reported in ``failed`` in one sentence and the others go on."""
        engine = engine or LocalEngine(self.gallery.encoder)
        report = AddReport()
        model_id = engine.model_id
        if engine.model_dir is not None:
            self.store.remember_model(model_fingerprint(engine.model_dir), model_id)
        jobs: dict[Job, tuple[Media, int | None]] = {}
        for row in _awaiting_reindex(self.store, model_id):
            media = Media(row.source, row.title, Path(row.media), row.sha256)
            jobs[Job(media.media, row.source)] = (media, row.id)
        for item in expand(list(inputs)):
            name = label(item)
            try:
                if is_link(item) and _link_known(self.store, item, model_id):
                    report.known.append(name)
                    continue
                media = resolve(item, self.folder / MEDIA_FOLDER, limits, download_progress)
            except (SpeakerIDError, OSError) as exc:
                report.failed.append((name, _sentence(name, exc)))
                continue
            if self.store.recording_by_hash(media.sha256, model_id) is not None or any(
                    m.sha256 == media.sha256 for m, _ in jobs.values()):
                report.known.append(name)
            else:
                jobs[Job(media.media, name)] = (media, None)
        total = len(jobs)
        if progress and total:
            progress(0, total, "")
        for done, (job, outcome) in enumerate(engine.run(list(jobs), stage_progress), start=1):
            media, replaces = jobs[job]
            if isinstance(outcome, SpeakerIDError):
                report.failed.append((job.name, _sentence(job.name, outcome)))
                self._drop_unused_media(media)
            else:
                try:
                    self._insert(media, outcome, replaces)
                    (report.reindexed if replaces is not None else report.added).append(job.name)
                except (sqlite3.Error, OSError) as exc:
                    report.failed.append((job.name, f"{job.name}: could not be written to the "
                                                    f"archive ({exc})"))
                    self._drop_unused_media(media)
            if progress:
                progress(done, total, job.name)
        return report

    def _insert(self, media: Media, indexed: IndexedRecording, replaces: int | None) -> None:
        """Link the recording's voices to the archive's and write it whole, in one transaction."""
        ids, centroids, speech = self.store.voices(indexed.model_id)
        updates = link_voices(indexed.voices, ids, centroids, speech, self._linking_model(indexed.model_id))
        turns = [NewTurn(t.start_s, t.end_s, t.speech_s, t.embedding, t.cohort, t.voice)
                 for t in indexed.turns]
        self.store.insert_recording(
            {"source": media.source, "title": media.title, "media": str(media.media),
             "sha256": media.sha256, "duration_s": indexed.duration_s, "speech_s": indexed.speech_s,
             "model_id": indexed.model_id}, turns, updates, replaces)

    def _drop_unused_media(self, media: Media) -> None:
        """Delete the archive's copy of a failed upload's or link's audio, unless a recording uses it:
        an input that fails leaves nothing behind."""
        if media.media.parent == self.folder / MEDIA_FOLDER and not self.store.uses_media(str(media.media)):
            media.media.unlink(missing_ok=True)

    def _linking_model(self, model_id: str) -> ModelScoring:
        model = self.gallery.encoder
        if model.encoder_id != model_id:
            raise SpeakerIDError(_("the engine's model ({model_id}) is not the gallery's "
                                   "({encoder_id}); give both the same model").format(
                                       model_id=model_id, encoder_id=model.encoder_id))
        return model

    # --- questions ----------------------------------------------------------------------------
    def find(self, name: str, min_probability: float = 0.0) -> list[Hit]:
        """Every turn where the enrolled ``name`` (or a person an alias names) speaks, most
        probable first; each hit carries the person's name."""
        info = self.gallery.find_speaker(name)
        if info is None:
            near = self.gallery.near_names(name)
            if near:
                raise not_enrolled(clean_name(name), near)
            raise SpeakerIDError(_("{name!r} is not enrolled; enrol them first (or name an "
                                   "archive voice with `archive name`)").format(name=clean_name(name)))
        name = info.name
        turns, labels = self._labelled()
        if name not in labels.names:
            return []
        rows = np.flatnonzero((labels.speaker == labels.names.index(name))
                              & (labels.probability >= min_probability))
        rows = rows[np.argsort(-labels.probability[rows], kind="stable")]
        recordings = self._recordings_by_id()
        return [Hit(recordings[turns.recording_ids[i]].source, recordings[turns.recording_ids[i]].title,
                    float(turns.starts[i]), float(turns.ends[i]), name, float(labels.probability[i]))
                for i in rows]

    def voices(self) -> list[ArchiveVoice]:
        """The voices nobody enrolled, each linked across recordings, most speech first."""
        turns, labels = self._labelled()
        recordings = self._recordings_by_id()
        found: dict[int, list[int]] = {}
        for row in np.flatnonzero((labels.speaker < 0) & (turns.voice_ids >= 0)):
            found.setdefault(int(turns.voice_ids[row]), []).append(int(row))
        result = []
        for voice, rows in found.items():
            sources = list(dict.fromkeys(recordings[turns.recording_ids[i]].source for i in rows))
            result.append(ArchiveVoice(voice_label(voice), sources, float(turns.speech[rows].sum()),
                                       [TurnRef(recordings[turns.recording_ids[i]].source,
                                                float(turns.starts[i]), float(turns.ends[i])) for i in rows]))
        return sorted(result, key=lambda v: (-v.seconds, v.voice))

    def who(self, recording: str | int) -> list[TimelineTurn]:
        """A recording's turns in time order, with today's names and voices."""
        row = self._current_recording(recording)
        turns, labels = self._labelled()
        rows = np.flatnonzero(turns.recording_ids == row.id)
        return [TimelineTurn(float(turns.starts[i]), float(turns.ends[i]), labels.speaker_of(i),
                             voice_label(int(turns.voice_ids[i])) if turns.voice_ids[i] >= 0 else None,
                             float(labels.probability[i]) if labels.speaker[i] >= 0 else None) for i in rows]

    def recordings(self) -> list[RecordingRow]:
        """Every recording, of any model, in the order added."""
        return self.store.recordings()

    def stale_recordings(self) -> list[RecordingRow]:
        """Recordings indexed by another model: left out of every answer until ``add`` re-indexes them."""
        return [row for row in self.store.recordings() if row.model_id != self.model_id]

    def summary(self) -> Summary:
        turns, labels = self._labelled()
        current = self.store.recordings(self.model_id)
        speech = float(turns.speech.sum())
        named = float(turns.speech[labels.speaker >= 0].sum())
        return Summary(len(current), sum(r.duration_s for r in current) / 3600,
                       sum(r.speech_s for r in current) / 3600, len(turns.ids),
                       named / speech if speech else 0.0, len(self.voices()), len(self.stale_recordings()))

    def turn_audio(self, recording: str | int, start_s: float, end_s: float) -> AudioClip:
        """The audio of a stretch of a recording (to play a hit), read from its file."""
        row = self.store.recording(recording)
        return cut_audio(row.media, start_s, end_s, f"{row.title} {start_s:.1f}-{end_s:.1f} s")

    # --- naming -------------------------------------------------------------------------------
    def name_voice(self, voice: str, name: str) -> SpeakerInfo:
        """Enrol an archive voice in the gallery as ``name`` (a new speaker, or more clips for an
        enrolled one) from its best turns' audio (:meth:`best_turns`); the whole archive then relabels."""
        voice_id = parse_voice(voice)
        turns, best = self._best_rows(voice_id)
        recordings = self._recordings_by_id()
        clips, speech = [], 0.0
        for i in best:
            recording = recordings[turns.recording_ids[i]]
            clips.append(cut_audio(recording.media, float(turns.starts[i]), float(turns.ends[i]),
                                   f"{recording.title} {turns.starts[i]:.1f}-{turns.ends[i]:.1f} s"))
            speech += float(turns.speech[i])
            if speech >= ENROL_TARGET_S or len(clips) >= ENROL_MAX_CLIPS:
                break
        if speech < MIN_NEW_SPEAKER_SPEECH_S and name not in self.gallery:
            raise SpeakerIDError(_("{voice} has only {speech:.1f} s of speech in turns of "
                                   "{enrol_min_turn_s:g} s or more; enrolling needs "
                                   "{min_new_speaker_speech_s:g} s").format(
                                       voice=voice_label(voice_id), speech=speech,
                                       enrol_min_turn_s=ENROL_MIN_TURN_S,
                                       min_new_speaker_speech_s=MIN_NEW_SPEAKER_SPEECH_S))
        return self.gallery.enroll(name, clips)

    def best_turns(self, voice: str) -> list[TurnRef]:
        """An unnamed voice's turns of ``ENROL_MIN_TURN_S`` of speech or more, the most typical of
        it first (highest score against the voice's centroid): the turns :meth:`name_voice` enrols
        from, and the ones to listen to before naming it."""
        turns, best = self._best_rows(parse_voice(voice))
        recordings = self._recordings_by_id()
        return [TurnRef(recordings[turns.recording_ids[i]].source, float(turns.starts[i]),
                        float(turns.ends[i])) for i in best]

    def _best_rows(self, voice_id: int) -> tuple[TurnTable, list[int]]:
        """The turn table and the rows of :meth:`best_turns`."""
        turns, labels = self._labelled()
        rows = np.flatnonzero((turns.voice_ids == voice_id) & (labels.speaker < 0))
        if not len(rows):
            raise SpeakerIDError(_("there is no unnamed {voice} in the archive "
                                   "(`archive voices` lists them)").format(voice=voice_label(voice_id)))
        long_enough = rows[turns.speech[rows] >= ENROL_MIN_TURN_S]
        ids, centroids, _sizes = self.store.voices(self.model_id)
        centroid = centroids[int(np.flatnonzero(ids == voice_id)[0])]
        vectors = turns.embeddings[long_enough].astype(np.float32)
        scores = self.model.score_matrix(vectors, centroid[None])[:, 0]
        return turns, [int(long_enough[j]) for j in np.argsort(-scores, kind="stable")]

    # --- caches -------------------------------------------------------------------------------
    def _labelled(self) -> tuple[TurnTable, Labels]:
        """The model's turns (cached until the archive changes) and their labels (until the
        archive or the gallery changes)."""
        version = (self.store.version(), self.model_id)
        if self._turns is None or self._turns[0] != version:
            self._turns = (version, load_turns(self.store, self.folder / CACHE_FOLDER, self.model_id,
                                                  self.model.metric == "cosine"))
        turns = self._turns[1]
        enrolled = self.gallery.enrolled_centroids()  # the same object while the gallery is unchanged
        cached = self._labels
        if cached is None or cached[0] != version or cached[1] is not enrolled:
            ids, centroids, speech = self.store.voices(self.model_id)
            cached = self._labels = (version, enrolled, label_turns(turns, ids, centroids, speech, enrolled,
                                                                    self.model))
        return turns, cached[2]

    def _recordings_by_id(self) -> dict[int, RecordingRow]:
        return {row.id: row for row in self.store.recordings(self.model_id)}

    def _current_recording(self, key: str | int) -> RecordingRow:
        row = self.store.recording(key)
        if row.model_id != self.model_id:
            raise SpeakerIDError(_("{source} was indexed by another model ({model_id}); "
                                   "`archive add` re-indexes it for the model in use").format(
                                       source=row.source, model_id=row.model_id))
        return row


def voice_label(voice_id: int) -> str:
    return f"{VOICE_PREFIX} {voice_id}"


def parse_voice(text: str) -> int:
    """The id of "Voice 17" (or "17", or "Voice 17" as shown in the language in use)."""
    match = re.fullmatch(rf"(?:{VOICE_PREFIX}\s*)?(\d+)", typed_voice(str(text)), re.IGNORECASE)
    if not match:
        raise SpeakerIDError(_("{text!r} is not an archive voice; give it as `archive voices` lists it "
                               "(e.g. \"Voice 17\")").format(text=text))
    return int(match.group(1))


def model_fingerprint(model_dir: str | Path) -> str:
    """A hash of the files a model's encoder id depends on (its config and weights, members' too),
    so that a search can know the model without building its network."""
    digest = hashlib.sha256()
    root = Path(model_dir)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and (
            p.name == paths.CONFIG_FILE or p.name.startswith("encoder.weights"))):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def already_indexed(inputs: Sequence[Input], folder: str | Path | None = None,
                    model_dir: str | Path | None = None) -> list[str] | None:
    """The names of ``inputs`` (files, folders, links) when every one is in the archive already for
    the model in use (recognised by its files' fingerprint, as :func:`open_for_search` does) and no
    recording awaits re-indexing: what ``add`` would report as known, found without loading the
    model, so re-adding a folder costs its hashing alone. None when anything needs the model or
    ``add``'s own checks (a new, missing or unreadable input, a model not yet seen)."""
    folder = Path(folder) if folder is not None else default_archive_dir()
    if not (folder / ARCHIVE_FILE).is_file():
        return None
    store = ArchiveStore(folder / ARCHIVE_FILE)
    try:
        model_id = store.encoder_id_of(model_fingerprint(model_dir or paths.default_model_dir()))
        if model_id is None or _awaiting_reindex(store, model_id):
            return None
        names = []
        for item in expand(list(inputs)):
            if is_link(item):
                known = _link_known(store, item, model_id)
            elif isinstance(item, str | Path) and Path(item).is_file():
                known = store.recording_by_hash(file_hash(Path(item)), model_id) is not None
            else:  # an upload, an empty folder, a missing file: for add to take or refuse
                known = False
            if not known:
                return None
            names.append(label(item))
        return names or None
    except OSError:
        return None
    finally:
        store.close()


def _awaiting_reindex(store: ArchiveStore, model_id: str) -> list[RecordingRow]:
    """The recordings another model indexed that this one has not."""
    return [row for row in store.recordings()
            if row.model_id != model_id and store.recording_by_hash(row.sha256, model_id) is None]


def _link_known(store: ArchiveStore, link: Input, model_id: str) -> bool:
    """Whether this model has indexed the link (known by its address: no download)."""
    return any(row.model_id == model_id for row in store.recordings_by_source(str(link).strip()))


def open_for_search(folder: str | Path | None = None, gallery_path: str | Path | None = None,
                    model_dir: str | Path | None = None) -> Archive:
    """An archive that answers questions without building the network (no TensorFlow import):
    the model in use (``model_dir``, default the app's) is recognised by its files' fingerprint,
    which ``add`` records."""
    from ..gallery import Gallery
    from ..models.scorer import ScoringModel

    folder = Path(folder) if folder is not None else default_archive_dir()
    model_dir = Path(model_dir) if model_dir is not None else paths.default_model_dir()
    store = ArchiveStore(folder / ARCHIVE_FILE)
    try:
        encoder_id = store.encoder_id_of(model_fingerprint(model_dir))
        has_recordings = bool(store.recordings())
    finally:
        store.close()
    if encoder_id is None and has_recordings:
        raise SpeakerIDError(_("the model in use ({model_dir}) has not indexed this archive; run "
                               "`python -m speakerid archive add` to re-index it").format(
                                   model_dir=model_dir))
    return Archive(folder, Gallery(gallery_path, ScoringModel(model_dir, encoder_id or "none")))


def _sentence(name: str, exc: BaseException) -> str:
    """``name: reason`` in one line, without repeating a name the reason already starts with."""
    text = " ".join(str(exc).split())
    return text if text.startswith(name) else f"{name}: {text}"
