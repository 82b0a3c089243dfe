"""Make the bundled demo voices (``assets/demo/``) from ``../shared/data``'s LibriSpeech speakers.

Run from the project root: ``python tools/make_demo.py``. For each demo reader it cuts an enrolment
excerpt from the start of their utterance and an example clip from its end (the two do not
overlap), and one clip of a reader nobody enrols; each cut falls in the quietest 20 ms near the
wanted time, so no word is cut in half. Written as 16-bit FLAC at the source's 16 kHz, with
``demo.json`` (what :mod:`speakerid.demo` reads) and ``NOTICE`` (source, licence, attribution,
changes). The speakers are benchmark speakers (``benchmarks/split.json``): never in the shipped
model's training. Checked with the shipped weights: each example names its reader, the unknown
one nobody.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "librispeech-clean-251"
DEMO = ROOT / "assets" / "demo"
ENROL_S = 8.0  # from the start of the utterance
EXAMPLE_S = 6.5  # up to its end
SEARCH_S = 0.4  # a cut moves at most this far to the quietest frame
READERS = [("198", "female"), ("3374", "male"), ("5688", "female"), ("911", "male")]
UNKNOWN = "3436"  # enrolled by nobody: the demo's unknown voice
MAX_BYTES = 2_000_000

NOTICE = """\
Demo voices: excerpts of LibriSpeech (train-clean subsets)

Source: LibriSpeech ASR corpus, (c) 2014 Vassil Panayotov, Guoguo Chen, Daniel Povey and Sanjeev
Khudanpur ("LibriSpeech: an ASR corpus based on public domain audio books", ICASSP 2015),
https://www.openslr.org/12, licensed under the Creative Commons Attribution 4.0 International
Licence (CC BY 4.0, https://creativecommons.org/licenses/by/4.0/). The recordings are LibriVox
readings of public-domain books; the readers are named below as LibriVox lists them.

Files here and what they are:
{files}
Changes: each file is a cut (start and end times above, moved to the quietest 20 ms near the
wanted time) of the one utterance named, re-encoded as 16-bit FLAC at the original 16 kHz, mono;
nothing else was changed. The speakers were given demo names in demo.json ("Demo reader N
(LibriSpeech ID)"). Made by tools/make_demo.py.

These files are licensed under CC BY 4.0 as their source is.
"""


def main() -> None:
    names = reader_names()
    (DEMO / "voices").mkdir(parents=True, exist_ok=True)
    (DEMO / "examples").mkdir(parents=True, exist_ok=True)
    voices, examples, lines = [], [], []
    for number, (speaker, gender) in enumerate(READERS, start=1):
        source, signal, rate = utterance(speaker)
        name = f"Demo reader {number} (LibriSpeech {speaker})"
        start, end = 0, quiet_cut(signal, rate, ENROL_S)
        voice = f"voices/reader-{number}.flac"
        lines.append(write(voice, signal, rate, start, end, source, speaker, names))
        start = quiet_cut(signal, rate, len(signal) / rate - EXAMPLE_S)
        example = f"examples/demo-reader-{number}.flac"
        lines.append(write(example, signal, rate, start, len(signal), source, speaker, names))
        voices.append({"name": name, "file": voice, "gender": gender})
        examples.append({"file": example, "label": f"Demo reader {number}, another passage",
                         "speaker": name})
    source, signal, rate = utterance(UNKNOWN)
    start = quiet_cut(signal, rate, 4.0)
    end = quiet_cut(signal, rate, 4.0 + EXAMPLE_S)
    example = "examples/unknown-reader.flac"
    lines.append(write(example, signal, rate, start, end, source, UNKNOWN, names))
    examples.append({"file": example, "label": "A reader nobody enrolled (unknown)", "speaker": None})
    (DEMO / "demo.json").write_text(json.dumps({"voices": voices, "examples": examples}, indent=2,
                                               ensure_ascii=False) + "\n")
    (DEMO / "NOTICE").write_text(NOTICE.format(files="".join(lines)))
    size = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    print(f"{DEMO}: {size / 1e6:.2f} MB")
    if size > MAX_BYTES:
        raise SystemExit(f"the demo is {size} bytes, over {MAX_BYTES}")


def reader_names() -> dict[str, str]:
    """LibriVox reader name per speaker id, from the corpus's SPEAKERS.TXT."""
    names = {}
    for line in (CORPUS / "SPEAKERS.TXT").read_text().splitlines():
        if not line.startswith(";"):
            fields = [field.strip() for field in line.split("|")]
            names[fields[0]] = fields[4]
    return names


def utterance(speaker: str) -> tuple[Path, np.ndarray, int]:
    [source] = sorted((CORPUS / speaker).glob("*.flac"))
    signal, rate = sf.read(source, dtype="int16")
    return source, signal, rate


def quiet_cut(signal: np.ndarray, rate: int, around_s: float) -> int:
    """The sample that starts the quietest 20 ms frame within SEARCH_S of ``around_s``."""
    frame = rate // 50
    first = max(0, int((around_s - SEARCH_S) * rate))
    last = min(len(signal) - frame, int((around_s + SEARCH_S) * rate))
    starts = np.arange(first, last, frame // 2)
    energy = [float(np.mean(signal[s:s + frame].astype(np.float64) ** 2)) for s in starts]
    return int(starts[int(np.argmin(energy))])


def write(name: str, signal: np.ndarray, rate: int, start: int, end: int, source: Path, speaker: str,
          names: dict[str, str]) -> str:
    sf.write(DEMO / name, signal[start:end], rate, format="FLAC", subtype="PCM_16")
    return (f"- {name}: LibriSpeech speaker {speaker} (reader \"{names[speaker]}\"), utterance "
            f"{source.name}, {start / rate:.2f}-{end / rate:.2f} s\n")


if __name__ == "__main__":
    main()
