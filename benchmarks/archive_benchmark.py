"""The archive's targets (issue 17): accuracy on held-out speakers, re-add cost, and search size.

    .venv/bin/python benchmarks/archive_benchmark.py accuracy [--engine ray --workers 2]
    .venv/bin/python benchmarks/archive_benchmark.py size --hours 1000
    .venv/bin/python benchmarks/archive_benchmark.py size --hours 10000

``accuracy`` builds recordings like tools/voices_benchmark.py's conversations from the held-out
speakers of benchmarks/split.json (never used in training or calibration): three people taking
turns of 3.2-6 s, telephone voices (Hyke, 8 kHz) mixed into wideband recordings (LibriSpeech,
16 kHz), each person in two recordings. Half of the people are enrolled before indexing, the
others not; each is enrolled as the product enrols (5-30 s of speech), from audio not used in any
turn: a LibriSpeech reader from what their one utterance leaves besides their two turns (5-10 s),
a Hyke caller from 20 s of their first call. It indexes them with the shipped weights and reports

- find: the share of an enrolled person's turns of 3 s or more that hits cover at least half of,
  and the share of hit time that falls on other people's turns;
- voices: the share of unenrolled people whose turns in both recordings carry one archive voice
  (and no other person's turns carry it);
- enrolled later: the unenrolled people enrolled after indexing, found as above;
- re-adding every recording: its time against the first add.

With ``--engine ray`` the recordings are embedded by that many Ray workers (a local Ray of as many
CPUs) and every figure is measured on the archive they built, as for the local engine.

``size`` fills an archive with synthetic turn embeddings (``--turn-s`` seconds a turn, three voices
an hour-long recording, 384 dimensions like the shipped model), then measures, in a fresh process,
what ``archive find`` does (open, read the turns, label them against a gallery of ``--speakers``
people, answer; twice, as the first search after an add also writes the turn files) and, in the
same process, a second find (the app's case: labels cached) and a relabel after the gallery
changed, with the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
RATE = 16000
LIBRI_ENROL_S = 10.0  # the most of a LibriSpeech utterance enrolled (what its two turns leave)
HYKE_ENROL_S = 20.0
MIN_ENROL_SPEECH_S = 5.0  # the product's enrolment: 5-30 s of speech


# --- accuracy -------------------------------------------------------------------------------------
def mono(path: Path) -> np.ndarray:
    from speakerid.audio import load_audio
    from speakerid.preprocess import resample, to_mono

    clip = load_audio(path)
    return resample(to_mono(clip.samples), clip.sample_rate, RATE)


def speaker_audio(corpus: str, name: str, rng: np.random.Generator
                  ) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """(enrolment audio, turns) of one held-out speaker, none of them overlapping, enrolled as the
    product enrols (the gallery wants 5-30 s): LibriSpeech's one utterance (at most 17 s here) ends
    in two turns of 3.2-4 s and enrols from the rest, up to LIBRI_ENROL_S and at least
    MIN_ENROL_SPEECH_S of speech; Hyke enrols from the speech of its first call (up to HYKE_ENROL_S)
    and takes a turn of 3.5-6 s from each of the four others."""
    folder = DATA / corpus / name
    if corpus.startswith("librispeech"):
        signal = mono(sorted(folder.iterdir())[0])
        lengths = rng.uniform(3.2, 4.0, size=2)
        enrol_end = min(len(signal) - int((lengths.sum() + 0.4) * RATE), int(LIBRI_ENROL_S * RATE))
        if enrol_end <= 0 or speech_s(signal[:enrol_end]) < MIN_ENROL_SPEECH_S:
            return None
        position, pieces = enrol_end + int(0.2 * RATE), []
        for length in lengths:
            pieces.append(signal[position:position + int(length * RATE)])
            position += int((length + 0.2) * RATE)
        return signal[:enrol_end], pieces
    calls = sorted(folder.iterdir())
    if len(calls) < 5:
        return None
    lengths = rng.uniform(3.5, 6.0, size=4)
    pieces = [speech_only(mono(call))[:int(length * RATE)] for call, length in zip(calls[1:], lengths)]
    return speech_only(mono(calls[0]))[:int(HYKE_ENROL_S * RATE)], pieces


def speech_s(signal: np.ndarray) -> float:
    from speakerid.config import PreprocessConfig
    from speakerid.preprocess import webrtc_speech_spans

    return sum(b - a for a, b in webrtc_speech_spans(signal, RATE, PreprocessConfig().vad_aggressiveness))


def speech_only(signal: np.ndarray) -> np.ndarray:
    """A call from its first speech to its last (calls open with a second or two of line noise,
    which would otherwise count as the speaker's turn in the script)."""
    from speakerid.config import PreprocessConfig
    from speakerid.preprocess import webrtc_speech_spans

    spans = webrtc_speech_spans(signal, RATE, PreprocessConfig().vad_aggressiveness)
    return signal[int(spans[0][0] * RATE):int(spans[-1][1] * RATE)] if spans else signal


def build_recordings(folder: Path, people: int, seed: int) -> dict:
    """Recordings of three people each (each person in two), their scripts and enrolment audio."""
    from synthetic import write_wav  # tests/synthetic.py

    rng = np.random.default_rng(seed)
    split = json.loads((ROOT / "benchmarks" / "split.json").read_text())
    chosen: list[tuple[str, str, np.ndarray, list[np.ndarray]]] = []
    for corpus in ("librispeech-clean-251", "hyke-phone-india"):
        for name in rng.permutation(split[corpus]):
            if sum(c == corpus for c, *_ in chosen) == people // 2:
                break
            audio = speaker_audio(corpus, str(name), rng)
            if audio is not None:
                chosen.append((corpus, f"{corpus.split('-')[0]}-{name}", *audio))
    order = rng.permutation(len(chosen))
    slots = np.concatenate([order, np.roll(order, len(order) // 2 + 1)])  # each person twice, apart
    folder.mkdir(parents=True, exist_ok=True)
    scripts, used, appearances = {}, [0] * len(chosen), [0] * len(chosen)
    for number in range(len(slots) // 3):
        trio = [int(i) for i in slots[3 * number:3 * number + 3]]
        share = {}
        for person in trio:  # the first appearance takes the larger half of one's turns
            turns = len(chosen[person][3])
            share[person] = (turns + 1) // 2 if appearances[person] == 0 else turns - (turns + 1) // 2
            appearances[person] += 1
        parts, script, position = [], [], 0.0
        while any(share.values()):
            for person in trio:
                if not share[person]:
                    continue
                share[person] -= 1
                turn = chosen[person][3][used[person]]
                used[person] += 1
                pause = float(rng.uniform(0.5, 0.9))
                parts += [np.zeros(int(pause * RATE), np.float32), turn.astype(np.float32)]
                position += pause
                script.append((position, position + len(turn) / RATE, chosen[person][1]))
                position += len(turn) / RATE
        path = folder / f"recording-{number:02d}.wav"
        write_wav(path, np.concatenate(parts + [np.zeros(RATE // 2, np.float32)]), RATE)
        scripts[str(path)] = script
    return {"scripts": scripts, "enrolment": {label: enrol for _, label, enrol, _ in chosen}}


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def find_scores(archive, names: list[str], scripts: dict) -> tuple[int, int, float, float]:
    """(turns of 3 s or more found, such turns, hit seconds on others, hit seconds)."""
    found = total = 0
    wrong = hit_time = 0.0
    for name in names:
        hits = archive.find(name)
        for recording, script in scripts.items():
            mine = [h for h in hits if h.recording == recording]
            for start, end, who in script:
                if who == name and end - start >= 3.0:
                    total += 1
                    covered = sum(overlap((h.start_s, h.end_s), (start, end)) for h in mine)
                    found += covered >= 0.5 * (end - start)
            for h in mine:
                hit_time += h.end_s - h.start_s
                wrong += sum(overlap((h.start_s, h.end_s), (s, e)) for s, e, who in script if who != name)
    return found, total, wrong, hit_time


def voice_scores(archive, names: list[str], scripts: dict) -> tuple[int, int]:
    """(unenrolled people whose every turn carries one archive voice that is theirs alone, people)."""
    voice_of: dict[str, set] = {name: set() for name in names}
    owners: dict[str, set] = {}
    for recording, script in scripts.items():
        turns = archive.who(recording)
        for start, end, who in script:
            best = max(turns, key=lambda t: overlap((t.start_s, t.end_s), (start, end)))
            label = best.voice if best.speaker is None else f"named:{best.speaker}"
            owners.setdefault(label, set()).add(who)
            if who in voice_of:
                voice_of[who].add(label)
    right = sum(len(v) == 1 and None not in v and owners[next(iter(v))] == {name}
                for name, v in voice_of.items())
    return right, len(names)


def run_accuracy(args: argparse.Namespace) -> None:
    from speakerid.archive import Archive
    from speakerid.audio import from_array
    from speakerid.gallery import Gallery
    from speakerid.models.loader import load_model

    folder = Path(tempfile.mkdtemp(prefix="archive-benchmark-"))
    built = build_recordings(folder / "recordings", args.people, args.seed)
    scripts, enrolment = built["scripts"], built["enrolment"]
    audio_s = sum(s[-1][1] for s in scripts.values())
    names = sorted(enrolment)
    enrolled, later = names[::2], names[1::2]
    engine = None
    if args.engine == "ray":  # the recordings are embedded by the Ray workers; the gallery here enrols
        from speakerid.archive.ray_engine import RayEngine

        engine = RayEngine(args.weights, args.workers, num_cpus=args.workers)
    gallery = Gallery(folder / "gallery.sqlite", load_model(args.weights))
    with Archive(folder / "archive", gallery) as archive:
        for name in enrolled:
            gallery.enroll(name, from_array(enrolment[name], RATE, name))
        started = time.perf_counter()
        report = archive.add(list(scripts), engine)
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = archive.add(list(scripts), engine)
        readd = time.perf_counter() - started
        assert not report.failed and not again.failed and not again.added, (report, again)
        result = {"recordings": len(scripts), "audio_min": round(audio_s / 60, 1), "people": len(names),
                  "engine": args.engine, "workers": args.workers if engine else 1,
                  "add_s": round(first, 1), "realtime_factor": round(audio_s / first, 1),
                  "readd_s": round(readd, 3), "readd_share": round(readd / first, 4)}
        found, total, wrong, hit_time = find_scores(archive, enrolled, scripts)
        right, count = voice_scores(archive, later, scripts)
        for name in later:
            gallery.enroll(name, from_array(enrolment[name], RATE, name))
        found_later, total_later, wrong_later, hit_later = find_scores(archive, later, scripts)
        result.update({"find_recall": round(found / total, 4), "find_turns": total,
                       "find_other_time": round(wrong / max(hit_time, 1e-9), 4),
                       "voices_linked": f"{right}/{count}",
                       "enrolled_later_recall": round(found_later / total_later, 4),
                       "enrolled_later_other_time": round(wrong_later / max(hit_later, 1e-9), 4)})
    if engine is not None:
        engine.close()
    print(json.dumps(result))


# --- size -----------------------------------------------------------------------------------------
class SyntheticGallery:
    """What Archive asks of a gallery, for enrolled centroids made up of synthetic voices."""

    def __init__(self, model, centroids: np.ndarray) -> None:
        from speakerid.gallery import EnrolledCentroids

        self.encoder = model
        self.names = [f"person {i}" for i in range(len(centroids))]
        self._enrolled = EnrolledCentroids(self.names, centroids, model.cohort_statistics(centroids),
                                           model.calibration)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def find_speaker(self, name: str):
        """The enrolled person ``name`` names (no aliases here), as the gallery answers."""
        from speakerid.results import SpeakerInfo

        return SpeakerInfo(name, None, None, None, 1, 10.0) if name in self.names else None

    def enrolled_centroids(self):
        return self._enrolled

    def change(self) -> None:
        """As after an enrolment: a new centroid object."""
        from dataclasses import replace

        self._enrolled = replace(self._enrolled, matrix=self._enrolled.matrix.copy())


def fill(folder: Path, hours: int, turn_s: float, seed: int, model) -> None:
    from speakerid.archive.store import ArchiveStore, NewTurn, VoiceUpdate
    from speakerid.scoring import unit

    rng = np.random.default_rng(seed)
    dim = model.model_config.embedding_dim
    store = ArchiveStore(folder / "archive.sqlite")
    turns_per_hour = int(3600 / turn_s)
    people = unit(rng.standard_normal((max(30, hours), dim)).astype(np.float32))
    for hour in range(hours):
        trio = rng.choice(len(people), 3, replace=False)
        who = rng.integers(0, 3, turns_per_hour)
        noise = rng.standard_normal((turns_per_hour, dim)) * (5.0 / np.sqrt(dim))
        vectors = unit(people[trio][who] + noise)
        statistics = model.cohort_statistics(vectors)
        turns = [NewTurn(i * turn_s, (i + 1) * turn_s, turn_s * 0.9, vectors[i],
                         (float(statistics[0][i]), float(statistics[1][i])), int(who[i]))
                 for i in range(turns_per_hour)]
        voices = [VoiceUpdate(None, people[p], 1200.0) for p in trio]
        store.insert_recording({"source": f"/news/{hour}.mp3", "title": f"{hour}.mp3",
                                "media": f"/news/{hour}.mp3", "sha256": f"{hour:064x}", "duration_s": 3600.0,
                                "speech_s": 3240.0, "model_id": "synthetic"}, turns, voices)
    store.close()
    np.save(folder / "people.npy", people)


def measure(folder: Path, speakers: int, weights: Path) -> dict:
    """In this fresh process: open, label, find; then find again and relabel after a change. Wall
    and CPU seconds both (this machine's cores are shared: CPU time is the steadier figure)."""
    clocks = (time.perf_counter(), time.process_time())
    from speakerid.archive import Archive
    from speakerid.models.scorer import ScoringModel

    def lap() -> tuple[float, float]:
        nonlocal clocks
        now = (time.perf_counter(), time.process_time())
        elapsed, clocks = (now[0] - clocks[0], now[1] - clocks[1]), now
        return round(elapsed[0], 3), round(elapsed[1], 3)

    model = ScoringModel(weights, "synthetic")
    people = np.load(folder / "people.npy")
    gallery = SyntheticGallery(model, people[:speakers])
    archive = Archive(folder, gallery)
    hits = archive.find("person 0")
    first = lap()
    archive.find("person 1")
    cached = lap()
    gallery.change()
    archive.find("person 0")
    relabel = lap()
    turns = len(archive._labelled()[0].ids)
    return {"turns": turns, "hits": len(hits), "process_find_s": first[0], "process_find_cpu_s": first[1],
            "cached_find_ms": round(cached[0] * 1000, 2), "cached_find_cpu_ms": round(cached[1] * 1000, 2),
            "relabel_s": relabel[0],
            "relabel_cpu_s": relabel[1],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def run_size(args: argparse.Namespace) -> None:
    from speakerid.models.scorer import ScoringModel

    folder = args.folder or Path(tempfile.mkdtemp(prefix="archive-size-"))
    if not (folder / "archive.sqlite").is_file():
        started = time.perf_counter()
        fill(folder, args.hours, args.turn_s, args.seed, ScoringModel(args.weights, "synthetic"))
        print(f"filled {args.hours} h in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    runs = [json.loads(subprocess.run([sys.executable, __file__, "measure", str(folder), str(args.speakers),
                                       str(args.weights)], capture_output=True, text=True, check=True).stdout)
            for _ in range(2)]  # the first search after an add also writes the turn files
    size_mb = (folder / "archive.sqlite").stat().st_size / 1e6
    print(json.dumps({"hours": args.hours, "turn_s": args.turn_s, "speakers": args.speakers,
                      "archive_mb": round(size_mb), "first_process_find_s": runs[0]["process_find_s"],
                      **runs[1]}))


def run_add_cost(args: argparse.Namespace) -> None:
    """`archive add` against `identify` on the same long recording (long_audio.py's panel of real
    voices), each a CLI process: wall and CPU seconds and peak RSS; then the same file added again."""
    from long_audio import enrol, run_cli, speech_turns, write_m4a

    turns, source = speech_turns(8)
    weights = args.weights.resolve()
    with tempfile.TemporaryDirectory(prefix="archive-add-cost-") as folder:
        folder = Path(folder)
        gallery = folder / "gallery.sqlite"
        enrol(gallery, weights, turns, 5)
        path = folder / f"recording-{args.minutes:g}min.m4a"
        write_m4a(path, turns, args.minutes * 60)
        store = ["--archive", str(folder / "archive")]
        identify = run_cli(ROOT, ["identify", str(path), "--json"], weights, gallery)
        add = run_cli(ROOT, ["archive", "add", str(path), *store], weights, gallery)
        again = run_cli(ROOT, ["archive", "add", str(path), *store], weights, gallery)
    print(json.dumps({"minutes": args.minutes, "source": source,
                      "identify_s": round(identify[0], 1), "identify_peak_mb": round(identify[1]),
                      "add_s": round(add[0], 1), "add_peak_mb": round(add[1]),
                      "add_over_identify": round(add[0] / identify[0], 2),
                      "identify_cpu_s": round(identify[3], 1), "add_cpu_s": round(add[3], 1),
                      "add_over_identify_cpu": round(add[3] / identify[3], 2),
                      "re_add_s": round(again[0], 1), "re_add_share": round(again[0] / add[0], 3)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="the size run on a 2-hour synthetic archive: does it still run?")
    commands = parser.add_subparsers(dest="command")
    accuracy = commands.add_parser("accuracy")
    accuracy.add_argument("--weights", type=Path, default=ROOT / "weights")
    accuracy.add_argument("--people", type=int, default=12, help="held-out people (half telephone)")
    accuracy.add_argument("--seed", type=int, default=0)
    accuracy.add_argument("--engine", choices=("local", "ray"), default="local")
    accuracy.add_argument("--workers", type=int, default=2)
    size = commands.add_parser("size")
    size.add_argument("--hours", type=int, default=1000)
    size.add_argument("--turn-s", type=float, default=20.0)
    size.add_argument("--speakers", type=int, default=100, help="enrolled people")
    size.add_argument("--seed", type=int, default=0)
    size.add_argument("--weights", type=Path, default=ROOT / "weights")
    size.add_argument("--folder", type=Path, help="reuse an archive filled earlier")
    add_cost = commands.add_parser("add-cost", help="archive add against identify on one long recording")
    add_cost.add_argument("--minutes", type=float, default=60.0)
    add_cost.add_argument("--weights", type=Path, default=ROOT / "weights")
    measure_ = commands.add_parser("measure")
    measure_.add_argument("folder", type=Path)
    measure_.add_argument("speakers", type=int)
    measure_.add_argument("weights", type=Path)
    args = parser.parse_args()
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="archive-smoke-") as folder:
            run_size(argparse.Namespace(hours=2, turn_s=20.0, speakers=5, seed=0, weights=ROOT / "weights",
                                        folder=Path(folder)))
    elif args.command is None:
        parser.error("a command is needed: accuracy, size or measure (or --smoke)")
    elif args.command == "accuracy":
        sys.path.insert(0, str(ROOT / "tests"))
        run_accuracy(args)
    elif args.command == "size":
        run_size(args)
    elif args.command == "add-cost":
        sys.path.insert(0, str(ROOT / "benchmarks"))
        run_add_cost(args)
    else:
        print(json.dumps(measure(args.folder, args.speakers, args.weights)))


if __name__ == "__main__":
    main()
