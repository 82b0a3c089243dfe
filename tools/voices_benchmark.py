"""Who-speaks-when with found voices on real speech: conversations of held-out speakers.

    .venv/bin/python tools/voices_benchmark.py --weights weights --conversations 10

Each conversation has four speakers of the benchmark's held-out split (benchmarks/split.json, never
used in training or calibration) taking eight turns (A C B D A C D B) with pauses of 0.5-0.9 s.
Two speakers are enrolled, two are not. LibriSpeech (default): each speaker has one utterance of
15 s or more; an enrolled speaker is enrolled from its first 5 s, and turns are two pieces of up to
8 s of the rest (same recording session). Hyke (--corpus hyke-phone-india, telephone): enrolled
from one call, turns from two other calls (up to 8 s each). The timeline is scored against the
script with :func:`speakerid.voices.compare_with_script`: turns right, mean edge error, and
whether exactly one found voice per unenrolled speaker was reported.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speakerid.audio import AudioClip, from_array, load_audio  # noqa: E402
from speakerid.gallery import Gallery  # noqa: E402
from speakerid.models.loader import load_model  # noqa: E402
from speakerid.preprocess import resample, to_mono  # noqa: E402
from speakerid.timeline import identify_timeline  # noqa: E402
from speakerid.voices import compare_with_script, find_voices, found_voices  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
RATE = 16000
ORDER = (0, 2, 1, 3, 0, 2, 3, 1)
TURN_S = 8.0


def mono(path: Path) -> np.ndarray:
    clip = load_audio(path)
    return resample(to_mono(clip.samples), clip.sample_rate, RATE)


def librispeech_speaker(folder: Path, enrolled: bool) -> tuple[np.ndarray | None, list[np.ndarray]] | None:
    """(enrolment audio or None, two turns) from one utterance of 15 s or more."""
    signal = mono(sorted(folder.iterdir())[0])
    if len(signal) < 15 * RATE:
        return None
    enrolment, rest = (signal[:5 * RATE], signal[5 * RATE:]) if enrolled else (None, signal)
    half = len(rest) // 2
    keep = int(TURN_S * RATE)
    return enrolment, [rest[:half][:keep], rest[half:][:keep]]


def hyke_speaker(folder: Path, enrolled: bool) -> tuple[np.ndarray | None, list[np.ndarray]] | None:
    """(enrolment call or None, two turns from two other calls)."""
    calls = sorted(folder.iterdir())
    if len(calls) < 3:
        return None
    keep = int(TURN_S * RATE)
    return (mono(calls[0]) if enrolled else None), [mono(calls[1])[:keep], mono(calls[2])[:keep]]


def conversation(corpus: str, speakers: list[str], rng: np.random.Generator
                 ) -> tuple[AudioClip, list[tuple[float, float, str]], dict[str, np.ndarray]]:
    make = librispeech_speaker if corpus.startswith("librispeech") else hyke_speaker
    voices = [make(DATA / corpus / name, enrolled=i < 2) for i, name in enumerate(speakers)]
    if any(v is None for v in voices):
        raise ValueError("speaker without enough audio")
    used = [0] * 4
    parts, script, position = [], [], 0.0
    for speaker in ORDER:
        turn = voices[speaker][1][used[speaker]]
        used[speaker] += 1
        pause = float(rng.uniform(0.5, 0.9))
        parts += [np.zeros(int(pause * RATE), np.float32), turn]
        position += pause
        script.append((position, position + len(turn) / RATE, speakers[speaker]))
        position += len(turn) / RATE
    parts.append(np.zeros(RATE // 2, np.float32))
    enrolment = {speakers[i]: voices[i][0] for i in range(2)}
    return from_array(np.concatenate(parts), RATE, "conversation.wav"), script, enrolment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=ROOT / "weights")
    parser.add_argument("--corpus", default="librispeech-clean-251",
                        choices=["librispeech-clean-251", "hyke-phone-india"])
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--hop", type=float, default=None, help="timeline hop (default: its own)")
    args = parser.parse_args()
    names = json.loads((ROOT / "benchmarks" / "split.json").read_text())[args.corpus]
    encoder = load_model(args.weights)
    rng = np.random.default_rng(0)
    totals = {"turns": 0, "right": 0, "edges": [], "voices_right": 0, "seconds": 0.0, "audio_s": 0.0}
    done = 0
    while done < args.conversations:
        speakers = [str(x) for x in rng.choice(names, 4, replace=False)]
        try:
            clip, script, enrolment = conversation(args.corpus, speakers, rng)
        except ValueError:
            continue
        with tempfile.TemporaryDirectory() as folder, Gallery(Path(folder) / "g.sqlite", encoder) as gallery:
            for name, audio in enrolment.items():
                gallery.enroll(name, from_array(audio, RATE, name))
            started = time.perf_counter()
            options = {} if args.hop is None else {"hop_s": args.hop}
            timeline = find_voices(identify_timeline(encoder.prepare(clip), encoder, gallery,
                                                     original_duration_s=clip.duration_s, **options),
                                   gallery)
            elapsed = time.perf_counter() - started
        result = compare_with_script(timeline.segments, script, enrolment)
        voices = found_voices(timeline)
        voices_right = len(voices) == 2 and len(set(result.voice_of.values())) == 2
        print(f"{' '.join(speakers)}: {result.right}/{result.turns} turns right, edge error "
              f"{result.edge_error_s:.2f} s, {len(timeline.segments)} segments, voices {voices}"
              f"{'' if voices_right else ' (wrong)'}, {elapsed:.1f} s for {clip.duration_s:.0f} s")
        totals["turns"] += result.turns
        totals["right"] += result.right
        totals["edges"].append(result.edge_error_s)
        totals["voices_right"] += voices_right
        totals["seconds"] += elapsed
        totals["audio_s"] += clip.duration_s
        done += 1
    print(f"\n{args.weights} on {args.corpus}, {done} conversations: {totals['right']}/{totals['turns']} "
          f"turns right, mean edge error {np.mean(totals['edges']):.2f} s, one voice per unenrolled "
          f"speaker in {totals['voices_right']}/{done}, {totals['seconds']:.0f} s for "
          f"{totals['audio_s']:.0f} s of audio")


if __name__ == "__main__":
    main()
