"""Several processes enrol and identify against one gallery file at the same time, the CLI too.

Two worker processes enrol new speakers and identify them straight away, lap after lap, while the
CLI enrols a speaker and then identifies it. Every enrolment must arrive (and nothing else), and
each process must rank its own just-enrolled speaker first for the very clip it enrolled.

The untrained encoder is not accurate, so identity is only asserted for identical clips, where
the score is 1. All clips are distinct: the same speaker's voice with another seed per lap.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from synthetic import synth_voice, write_wav

from speakerid.audio import from_array
from speakerid.gallery import Gallery

REPO = Path(__file__).resolve().parents[1]
RATE = 16000
CLIP_S = 5.0  # without pauses: all of it is speech, and a new speaker needs 3 s
WORKERS = 2
SPEAKERS_PER_WORKER = 2
# Each worker stops at the stop file, touched once the CLI is done (however long that takes on a busy
# machine: the workers must still be enrolling then), or after this many laps, should the test die.
MAX_LAPS = 2000
LAP_PAUSE_S = 0.2  # keeps the workers going through the CLI's start-up without starving it

# argv: gallery, model dir, worker number, go file, stop file, laps, voices, pause. Prints "ready",
# then one JSON line per enrolment.
WORKER = """
import json, sys, time
from pathlib import Path
from synthetic import synth_voice
from speakerid import load_model
from speakerid.audio import from_array
from speakerid.gallery import Gallery
path, model, worker, go, stop, laps, voices, pause = sys.argv[1:]
gallery = Gallery(path, load_model(model))
print("ready", flush=True)
while not Path(go).exists():
    time.sleep(0.01)
for lap in range(int(laps)):
    if Path(stop).exists():
        break
    for voice in range(int(voices)):
        speaker = 10 * (int(worker) + 1) + voice
        signal = synth_voice(speaker, 5.0, 16000, seed=lap, pauses=False)
        clip = from_array(signal, 16000, f"{speaker}-{lap}.wav")
        name = f"worker {worker} voice {speaker} lap {lap:02d}"
        gallery.enroll(name, [clip])
        best = gallery.identify(clip, top_k=3).best
        print(json.dumps({"enrolled": name, "best": best.name, "score": best.score, "at": time.time()}),
              flush=True)
    time.sleep(float(pause))
"""


def clip(speaker: int, lap: int):
    signal = synth_voice(speaker, CLIP_S, RATE, seed=lap, pauses=False)
    return from_array(signal, RATE, f"{speaker}-{lap}.wav")


def python(*args: object, stdout=subprocess.PIPE) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)]),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, *map(str, args)], cwd=REPO, env=env, stdout=stdout,
                            stderr=subprocess.PIPE, text=True)


def cli(*args: object) -> subprocess.Popen:
    return python("-m", "speakerid", *args)


def finished(process: subprocess.Popen) -> str:
    """The process's stdout, once it exited with code 0."""
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


@pytest.fixture
def model_dir(tmp_path, untrained_encoder) -> Path:
    return untrained_encoder.save(tmp_path / "model")


def test_workers_and_the_cli_enrol_and_identify_at_once(tmp_path, model_dir, untrained_encoder):
    path, go, stop = tmp_path / "gallery.sqlite", tmp_path / "go", tmp_path / "stop"
    workers = [python("-c", WORKER, path, model_dir, number, go, stop, MAX_LAPS, SPEAKERS_PER_WORKER,
                      LAP_PAUSE_S) for number in range(WORKERS)]
    for worker in workers:
        assert worker.stdout.readline() == "ready\n", worker.communicate()[1]
    cli_file = tmp_path / "cli.wav"
    write_wav(cli_file, synth_voice(99, CLIP_S, RATE, pauses=False), RATE)
    go.touch()
    common = ["--gallery", path, "--weights", model_dir, "--json"]
    try:
        began = time.time()
        enrolled = json.loads(finished(cli("enroll", "--name", "cli speaker", cli_file, *common)))
        between = time.time()
        identified = json.loads(finished(cli("identify", cli_file, *common)))
        ended = time.time()
    finally:
        stop.touch()
    reports = [json.loads(line) for worker in workers for line in finished(worker).splitlines()]
    times = [report["at"] for report in reports]
    assert any(began < t < between for t in times) and any(between < t < ended for t in times)

    assert (enrolled["name"], enrolled["clips"]) == ("cli speaker", 1)
    assert identified[0]["speaker"] == "cli speaker"
    assert identified[0]["matches"][0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert all((r["best"], r["score"]) == (r["enrolled"], pytest.approx(1.0, abs=1e-4)) for r in reports)
    names = {r["enrolled"] for r in reports} | {"cli speaker"}
    with Gallery(path, untrained_encoder) as gallery:
        assert {(s.name, s.clips) for s in gallery.speakers()} == {(name, 1) for name in names}
        first = gallery.identify(clip(10, 0))  # the parent process agrees with the workers
        assert first.best.name == "worker 0 voice 10 lap 00"
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
