"""One object that describes how audio becomes features.

It is saved next to the weights (``config.json``) so a model never meets audio prepared
differently from the audio it was trained on.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

SilenceMethod = Literal["none", "pydub", "energy", "webrtc"]


@dataclass(frozen=True)
class PreprocessConfig:
    """Waveform stages: resampling, trimming of long recordings, silence removal, loudness."""

    sample_rate: int = 16000
    # The reference cuts the first and last minute of long web recordings (intros, applause).
    # It only applies to clips longer than ``trim_min_duration_s`` so short clips are never emptied.
    trim_head_s: float = 60.0
    trim_tail_s: float = 60.0
    trim_min_duration_s: float = 300.0
    silence_method: SilenceMethod = "webrtc"
    silence_thresh_dbfs: float = -30.0  # pydub reference setting
    min_silence_ms: int = 500  # pydub reference default of split_on_silence
    keep_silence_ms: int = 100  # pydub reference setting
    vad_aggressiveness: int = 2  # webrtc VAD 0..3
    target_dbfs: float = -23.0  # loudness normalisation of the kept speech (RMS)
    min_speech_s: float = 1.0


@dataclass(frozen=True)
class FeatureConfig:
    """Log-mel spectrogram parameters and the windows the encoder sees."""

    n_fft: int = 512
    win_length: int = 400  # 25 ms at 16 kHz
    hop_length: int = 160  # 10 ms at 16 kHz
    n_mels: int = 64
    fmin: float = 20.0
    fmax: float = 7600.0
    # Long clips are cut into windows of this length; their embeddings are averaged.
    window_s: float = 3.0
    window_hop_s: float = 3.0


@dataclass(frozen=True)
class PipelineConfig:
    """Everything between a file and the encoder's input."""

    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        return cls(
            preprocess=_known_fields(PreprocessConfig, data.get("preprocess", {})),
            features=_known_fields(FeatureConfig, data.get("features", {})),
        )

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: Path) -> PipelineConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


def reference_pipeline() -> PipelineConfig:
    """The reference system's preparation: 22.05 kHz, pydub silence split, 128-band mels."""
    return PipelineConfig(
        preprocess=PreprocessConfig(sample_rate=22050, silence_method="pydub"),
        features=FeatureConfig(
            n_fft=2048, win_length=2048, hop_length=512, n_mels=128, fmin=0.0, fmax=11025.0,
            window_s=3.0, window_hop_s=1.5,
        ),
    )


def _known_fields(kind: type, values: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown {kind.__name__} settings: {sorted(unknown)}")
    return kind(**values)
