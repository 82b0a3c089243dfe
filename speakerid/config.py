"""The settings saved next to the weights: how audio becomes features, and the network's shape.

It is saved next to the weights (``config.json``) so a model never meets audio prepared
differently from the audio it was trained on.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import SpeakerIDError
from .i18n import _
from .paths import CONFIG_FILE

SilenceMethod = Literal["none", "pydub", "energy", "webrtc"]
Backbone = Literal["resnet", "densenet121", "ecapa", "fusion"]
FeatureKind = Literal["log_mel", "fbank"]
Metric = Literal["cosine", "euclidean"]

# Inclusive bounds of the settings that size arrays or divide, checked when a config is read:
# config.json arrives with weights from anywhere, and outside these a NaN sample rate aborts the
# process in the resampler and a huge embedding size asks for terabytes.
LIMITS: dict[str, tuple[float, float]] = {
    "sample_rate": (1000, 384_000), "vad_aggressiveness": (0, 3),
    "n_fft": (16, 65_536), "win_length": (16, 65_536), "hop_length": (1, 65_536),
    "n_mels": (1, 1024), "fmin": (0, 192_000), "fmax": (1, 192_000),
    "window_s": (0.1, 3600), "window_hop_s": (0.1, 3600),
    "embedding_dim": (1, 8192), "channels": (1, 4096), "blocks": (1, 64), "stem_stride": (1, 16),
    "kernel_sizes": (1, 15), "dilations": (1, 16), "attention_channels": (1, 4096),
    "res2net_scale": (1, 64), "se_channels": (1, 4096),
}
MAX_ITEMS = 16  # of a tuple setting (channels, blocks)


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
    """Log-mel spectrogram parameters and the windows the encoder sees.

    ``kind`` picks one of two log-mel front ends: ``log_mel`` (Slaney filters, natural log, our
    networks) or ``fbank`` (SpeechBrain's Fbank: Hamming window, centred frames, HTK-style
    triangular filters, decibels floored 80 dB under the window's peak), which the ported ECAPA-TDNN
    was trained on. Both are computed by :mod:`speakerid.features` in TensorFlow.
    """

    kind: FeatureKind = "log_mel"
    n_fft: int = 512
    win_length: int = 400  # 25 ms at 16 kHz
    hop_length: int = 160  # 10 ms at 16 kHz
    n_mels: int = 64
    fmin: float = 20.0
    fmax: float = 7600.0
    # Long clips are cut into windows of at most this length (equal ones covering the clip once
    # when the hop is not shorter; see features.window_layout); their embeddings are averaged.
    # Statistics pooling takes any length, and one pass over up to 20 s beat averaged 3 s windows
    # on held-out speakers (EER 1.4 vs 2.7 % on Hyke, 11.9 vs 14.4 % on LibriSpeech).
    window_s: float = 20.0
    window_hop_s: float = 20.0


@dataclass(frozen=True)
class PipelineConfig:
    """Everything between a file and the encoder's input."""

    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        if not isinstance(data, dict):
            raise ValueError(f"pipeline settings must be a JSON object, not {type(data).__name__}")
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


def read_config(model_dir: Path) -> tuple[dict[str, Any], PipelineConfig, ModelConfig]:
    """config.json of a model directory: the whole object, its pipeline and its network settings
    (read without TensorFlow, so a training run can plan before importing it)."""
    config_path = Path(model_dir) / CONFIG_FILE
    if not config_path.is_file():
        raise SpeakerIDError(_("no trained encoder in {model_dir}: expected {config_file} "
                               "(train one with `python -m speakerid train`)").format(
                                   model_dir=model_dir, config_file=CONFIG_FILE))
    try:  # plain values only (see _known_fields): nothing in a config is executed
        meta = json.loads(config_path.read_text())
        return meta, PipelineConfig.from_dict(meta["pipeline"]), ModelConfig.from_dict(meta["model"])
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise SpeakerIDError(_("{config_path} is not a speakerid model config: {exc}").format(
            config_path=config_path, exc=exc)) from None


def ecapa_pipeline() -> PipelineConfig:
    """What SpeechBrain's VoxCeleb ECAPA-TDNN was trained on: 16 kHz, 80-band Fbank over 0-8 kHz,
    25 ms frames every 10 ms (its ``hyperparams.yaml``), with our speech detection in front."""
    return PipelineConfig(features=FeatureConfig(kind="fbank", n_fft=400, win_length=400, hop_length=160,
                                                 n_mels=80, fmin=0.0, fmax=8000.0))


def _known_fields(kind: type, values: Any) -> Any:
    """``kind`` from JSON values, each checked against its declared type and :data:`LIMITS`.

    Only plain values are accepted (strings of a fixed set, booleans, finite numbers, lists of
    integers): a config names settings, never code or objects, so nothing in it is executed.
    """
    if not isinstance(values, dict):
        raise ValueError(f"{kind.__name__} settings must be a JSON object, not {type(values).__name__}")
    hints = typing.get_type_hints(kind)
    unknown = set(values) - {f.name for f in dataclasses.fields(kind)}
    if unknown:
        raise ValueError(f"unknown {kind.__name__} settings: {sorted(unknown)}")
    return kind(**{name: _checked(f"{kind.__name__}.{name}", hints[name], value)
                   for name, value in values.items()})


def _checked(label: str, hint: Any, value: Any) -> Any:
    """``value`` if it is a valid ``hint`` (a Literal, bool, int, float or tuple of them), else ValueError."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        if not isinstance(value, str) or value not in args:
            raise ValueError(f"{label} must be one of {', '.join(args)}, not {_shown(value)}")
        return value
    if origin is tuple:
        size = None if args[-1] is Ellipsis else len(args)
        if (not isinstance(value, list | tuple) or not value or len(value) > MAX_ITEMS
                or size is not None and len(value) != size):
            raise ValueError(f"{label} must be a list of {size or f'1 to {MAX_ITEMS}'} numbers, "
                             f"not {_shown(value)}")
        return tuple(_checked(label, args[0], item) for item in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{label} must be true or false, not {_shown(value)}")
        return value
    number = (isinstance(value, int) and not isinstance(value, bool)
              or isinstance(value, float) and math.isfinite(value))
    if not number or hint is int and not isinstance(value, int):
        raise ValueError(f"{label} must be {'an integer' if hint is int else 'a finite number'}, "
                         f"not {_shown(value)}")
    low, high = LIMITS.get(label.rsplit(".", 1)[-1], (-math.inf, math.inf))
    if not low <= value <= high:
        raise ValueError(f"{label} must be between {low:g} and {high:g}, not {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    """A refused value for a message: its repr, cut short (a hostile file may hold megabytes)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class ModelConfig:
    """The network's shape and how its embeddings are compared (saved in config.json too)."""

    backbone: Backbone = "resnet"
    embedding_dim: int = 192
    channels: tuple[int, ...] = (24, 48, 96, 192)
    blocks: tuple[int, ...] = (2, 2, 2, 2)
    # (time, frequency) stride of the first convolution: 20 ms frames keep speaker detail and
    # halve the cost of every later layer (a 30 s clip embeds in well under 0.1 s on 2 cores).
    stem_stride: tuple[int, int] = (2, 2)
    # Per-window mean removal of each mel band: cancels stationary channel colouring (phone, TV).
    mean_normalise: bool = True
    # How embeddings are compared: cosine for margin-softmax training, euclidean for contrastive.
    metric: Metric = "cosine"
    # ECAPA-TDNN only (``channels`` then holds its five layer widths): each layer's kernel and
    # dilation, the attentive pooling's width, the Res2Net split and the squeeze-excitation width.
    kernel_sizes: tuple[int, ...] = (5, 3, 3, 3, 1)
    dilations: tuple[int, ...] = (1, 2, 3, 4, 1)
    attention_channels: int = 128
    res2net_scale: int = 8
    se_channels: int = 128

    @property
    def min_frames(self) -> int:
        """The shortest input the network takes: DenseNet121 halves time five times, flooring
        (a shorter input ends with no time steps and fails); ECAPA's reflection padding needs more
        frames than its widest pad; the ResNet rounds up and takes any."""
        if self.backbone == "ecapa":
            return 1 + max(d * (k - 1) // 2 for k, d in zip(self.kernel_sizes, self.dilations))
        return 32 if self.backbone == "densenet121" else 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """From config.json's ``model``: settings left out take their defaults; see :func:`_known_fields`."""
        return _known_fields(cls, data)


def reference_model() -> ModelConfig:
    """The reference: DenseNet121, 128-dimensional embedding, Euclidean distance."""
    return ModelConfig(backbone="densenet121", embedding_dim=128, mean_normalise=False,
                       metric="euclidean")


def ecapa_model() -> ModelConfig:
    """SpeechBrain's ``spkrec-ecapa-voxceleb`` network: ECAPA-TDNN with 1024 channels, 192-d output."""
    return ModelConfig(backbone="ecapa", embedding_dim=192, channels=(1024, 1024, 1024, 1024, 3072),
                       mean_normalise=True, metric="cosine")
