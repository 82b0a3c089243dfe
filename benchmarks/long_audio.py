"""Long recordings: wall time and peak memory of ``python -m speakerid identify`` on hours of audio.

For each length (default 10 min, 1 h, 4 h) a stereo 48 kHz M4A (AAC, 64 kbit/s) is written to a
temporary folder (never into the repository): real speech from ../shared/data/librispeech-clean-251
taken turn by turn, one speaker after another with short pauses, as a panel discussion would be,
upsampled to 48 kHz with the right channel a quieter copy of the left. Without the corpus, the
turns are synthetic voices (tests/synthetic.py). The gallery holds the first ``--speakers`` voices,
enrolled with the model from their own turns. The file is written a block at a time, so the
benchmark itself needs little memory.

Each file is then identified by the CLI in a child process; its wall time and its peak resident
memory (``ru_maxrss`` of that child, from ``os.wait4``) are recorded. ``--timeline`` adds the CLI's
``--timeline`` (who speaks when). ``--cli-root`` runs another checkout's CLI on the same files (for
a before/after comparison).

    nice -n 10 .venv/bin/python benchmarks/long_audio.py                    # 10 min, 1 h, 4 h
    nice -n 10 .venv/bin/python benchmarks/long_audio.py --minutes 10 60 --key short
    nice -n 10 .venv/bin/python benchmarks/long_audio.py --minutes 10 --cli-root ../main --key before
    .venv/bin/python benchmarks/long_audio.py --smoke     # seconds: does the script still work?

Each run updates its entry ``--key`` of benchmarks/results/long_audio.json, then long_audio.md is
rewritten from all entries (``--smoke``: half a minute of synthetic voices identified with a tiny
untrained model, results in a temporary folder). Linux only (ru_maxrss in kB).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from smoke import HELP as SMOKE_HELP  # noqa: E402
from smoke import output, tiny_model  # noqa: E402
from synthetic import synth_voice  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CORPUS = ROOT.parent / "shared" / "data" / "librispeech-clean-251"
RATE = 48000
BITRATE = 64000
PAUSE_S = (0.3, 1.2)


def speech_turns(voices: int, real: bool = True) -> tuple[list[np.ndarray], str]:
    """One turn per voice at 16 kHz (mono float32): LibriSpeech utterances when ``real`` and the
    corpus is there, else synthetic."""
    import soundfile as sf

    if real and CORPUS.is_dir():
        files = sorted(CORPUS.glob("*/*.flac"))
        turns = []
        for path in files:
            signal, rate = sf.read(path, dtype="float32")
            if rate == 16000 and len(signal) >= 10 * rate:
                turns.append(signal)
            if len(turns) == voices:
                break
        return turns, f"LibriSpeech utterances of {len(turns)} speakers ({CORPUS.name})"
    why = "the corpus is absent" if real else "--smoke"
    return [synth_voice(i, 20.0, 16000, seed=i) for i in range(voices)], \
        f"synthetic voices of {voices} speakers (tests/synthetic.py; {why})"


def recording_blocks(turns: list[np.ndarray], seconds: float, seed: int = 0) -> Iterator[np.ndarray]:
    """(2, frames) float32 blocks at 48 kHz: turns in a shuffled rotation, pauses between them."""
    import soxr

    rng = np.random.default_rng(seed)
    upsampled = [soxr.resample(turn, 16000, RATE).astype(np.float32) for turn in turns]
    written, total = 0, int(seconds * RATE)
    while written < total:
        for index in rng.permutation(len(upsampled)):
            pause = (0.002 * rng.standard_normal(int(rng.uniform(*PAUSE_S) * RATE))).astype(np.float32)
            mono = np.concatenate([upsampled[index], pause])[:total - written]
            written += len(mono)
            yield np.stack([mono, 0.8 * mono])
            if written >= total:
                return


def write_m4a(path: Path, turns: list[np.ndarray], seconds: float) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=RATE, layout="stereo")
        stream.bit_rate = BITRATE
        for block in recording_blocks(turns, seconds):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout="stereo")
            frame.sample_rate = RATE
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def enrol(gallery: Path, weights: Path, turns: list[np.ndarray], count: int) -> None:
    """The first ``count`` voices, each from its own turn (in this process: the CLI's start-up,
    TensorFlow and the model, would be paid once per speaker)."""
    from speakerid.audio import from_array
    from speakerid.gallery import Gallery
    from speakerid.models.loader import load_model

    with Gallery(gallery, load_model(weights)) as enrolled:
        for index, turn in enumerate(turns[:count]):
            enrolled.enroll(f"voice {index}", from_array(turn, 16000))


def run_cli(root: Path, args: list[str], weights: Path, gallery: Path) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS (MB), stdout and CPU seconds (user and system: steadier than wall
    time on a shared machine) of ``python -m speakerid ARGS`` in a child."""
    command = [sys.executable, "-m", "speakerid", *args, "--weights", str(weights), "--gallery", str(gallery)]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, cwd=root, stdout=out, stderr=err,
                                 env={**os.environ, "PYTHONPATH": str(root)})
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the largest so far
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0), err.seek(0)
        if child.returncode:
            raise SystemExit(f"{args[0]} failed: {err.read().decode()[-400:]}")
        return wall, usage.ru_maxrss / 1024, out.read().decode(), usage.ru_utime + usage.ru_stime


# --smoke: half a minute, two voices taking turns, one of them enrolled, with who speaks when.
SMOKE = {"minutes": [0.5], "speakers": 1, "voices": 2, "timeline": True}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 60, 240])
    parser.add_argument("--weights", type=Path, default=ROOT / "weights")
    parser.add_argument("--speakers", type=int, default=5, help="voices enrolled in the gallery")
    parser.add_argument("--voices", type=int, default=8, help="voices taking turns in the recording")
    parser.add_argument("--timeline", action="store_true", help="identify with --timeline")
    parser.add_argument("--cli-root", type=Path, default=ROOT, help="checkout whose CLI is measured")
    parser.add_argument("--key", default="streaming")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP + "; sets the sizes and the model")
    args = parser.parse_args(argv)
    if args.smoke:
        vars(args).update(SMOKE)
    turns, source = speech_turns(args.voices, real=not args.smoke)
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="speakerid-long-") as folder:
        folder = Path(folder)
        gallery = folder / "gallery.sqlite"
        if args.smoke:
            args.weights = tiny_model(folder / "tiny")
        enrol(gallery, args.weights.resolve(), turns, args.speakers)
        for minutes in args.minutes:
            path = folder / f"recording-{minutes:g}min.m4a"
            write_m4a(path, turns, minutes * 60)
            extra = ["--timeline"] if args.timeline else []
            wall, rss, out, _ = run_cli(args.cli_root.resolve(), ["identify", str(path), "--json", *extra],
                                        args.weights.resolve(), gallery)
            result = json.loads(out)[0]
            rows.append({"minutes": minutes, "file_mb": round(path.stat().st_size / 1e6, 1),
                         "wall_s": round(wall, 1), "peak_rss_mb": round(rss), "speaker": result["speaker"],
                         "segments": len(result.get("segments") or [])})
            print(json.dumps(rows[-1]), flush=True)
            path.unlink()
    entry = {"rows": rows, "source": source, "timeline": args.timeline,
             "cli_root": "this checkout" if args.cli_root.resolve() == ROOT else str(args.cli_root),
             "weights": str(args.weights), "load_average": os.getloadavg(), "machine": platform.machine(),
             "cpus": os.cpu_count(), "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             "seconds": round(time.perf_counter() - started),
             "command": "nice -n 10 .venv/bin/python benchmarks/long_audio.py " + " ".join(sys.argv[1:])}
    with output(RESULTS / "long_audio.json", args.smoke) as store:
        entries = json.loads(store.read_text()) if store.is_file() else {}
        entries[args.key] = entry
        store.write_text(json.dumps(entries, indent=2) + "\n")
        store.with_suffix(".md").write_text(report(entries))
    print(report({args.key: entry}))


def report(entries: dict) -> str:
    lines = ["# Long recordings (benchmarks/long_audio.py)", ""]
    for key, entry in entries.items():
        what = "identify --timeline" if entry["timeline"] else "identify"
        lines += [f"## {key}: `python -m speakerid {what}` ({entry['cli_root']})", "",
                  f"Stereo 48 kHz AAC M4A of {entry['source']}, turn by turn; model {entry['weights']}; "
                  f"{entry['cpus']} CPUs, load average {entry['load_average'][0]:.1f} at the end "
                  f"(other jobs shared the machine); finished {entry['finished']}.", "",
                  "| length | file (MB) | wall (s) | s per audio hour | peak RSS (MB) | verdict |",
                  "|---:|---:|---:|---:|---:|---|"]
        for row in entry["rows"]:
            per_hour = row["wall_s"] / (row["minutes"] / 60)
            lines.append(f"| {row['minutes']:g} min | {row['file_mb']} | {row['wall_s']} | {per_hour:.0f} | "
                         f"{row['peak_rss_mb']} | {row['speaker'] or 'unknown'} |")
        lines += ["", f"Command: `{entry['command']}` ({entry['seconds']} s in all)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
