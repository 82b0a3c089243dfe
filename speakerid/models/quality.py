"""Quality measures of a clip, read off its features: seconds of speech and telephone band.

Fused encoders weigh their members by the clip's condition, as NIST SRE systems weigh subsystems by
quality measures: a network trained on web video (the ECAPA port) and one that learnt these
telephone channels (the thin ResNet) are not equally good on 3 s of telephone speech and on a
minute of studio speech. Both measures come from the features the encoder computes anyway, so a
clip, a timeline window and a live buffer are all measured the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..config import FeatureConfig

# A telephone channel passes 300-3400 Hz and a recording at 8 kHz nothing above 4 kHz; resampled to
# 16 kHz, such a clip's mel bands from 4.5 kHz up (their filters start above 4.2 kHz) hold little
# but the front end's floor: 34-48 dB of power under the voice band's on the 20 held-out Hyke
# speakers' clips and crops. Studio speech keeps its fricatives there: from 30 dB under to 7 dB over
# on the 61 held-out LibriSpeech speakers'.
VOICE_BAND_HZ = (300.0, 3400.0)
HIGH_BAND_HZ = 4500.0
NARROWBAND_BELOW_DB = -32.0  # high band this far under the voice band: a telephone channel


@lru_cache(maxsize=8)
def _band_centres(config: FeatureConfig, sample_rate: int) -> np.ndarray:
    import librosa

    fmax = min(config.fmax, sample_rate / 2)
    return librosa.mel_frequencies(config.n_mels + 2, fmin=config.fmin, fmax=fmax,
                                   htk=config.kind == "fbank")[1:-1]


def high_band_db(features: np.ndarray, config: FeatureConfig, sample_rate: int = 16000) -> float:
    """Mean power of the mel bands from 4.5 kHz up over that of the voice band (300-3400 Hz), in dB,
    over the frames of ``features`` (frames, n_mels) computed with ``config``."""
    centres = _band_centres(config, sample_rate)
    high, voice = centres >= HIGH_BAND_HZ, (centres >= VOICE_BAND_HZ[0]) & (centres <= VOICE_BAND_HZ[1])
    if not high.any() or not voice.any():
        return float("-inf")  # the front end sees no high band at all: as narrow as it gets
    levels = np.asarray(features, dtype=np.float64)
    # fbank holds decibels, log_mel natural-log power
    power = 10.0 ** (levels / 10.0) if config.kind == "fbank" else np.exp(levels)
    return float(10.0 * np.log10(power[..., high].mean() / max(power[..., voice].mean(), 1e-30)))


@dataclass(frozen=True)
class Condition:
    """The condition a clip was recorded and cut in: telephone band or not, seconds of speech."""

    narrowband: bool
    speech_s: float


@dataclass(frozen=True)
class ConditionWeights:
    """Members' weights for clips of one band up to ``up_to_s`` seconds of speech (None: longer)."""

    narrowband: bool
    up_to_s: float | None
    weights: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"band": "narrow" if self.narrowband else "wide", "up_to_s": self.up_to_s,
                "weights": list(self.weights)}

    @classmethod
    def from_dict(cls, data: Any, members: int) -> ConditionWeights:
        """ValueError unless ``data`` names a band, a length (or null) and ``members`` weights
        that are non-negative and sum to 1."""
        if not isinstance(data, dict) or set(data) != {"band", "up_to_s", "weights"}:
            raise ValueError("each condition must hold band, up_to_s and weights")
        if data["band"] not in ("narrow", "wide"):
            raise ValueError(f"band must be narrow or wide, not {str(data['band'])[:20]!r}")
        up_to = data["up_to_s"]
        if up_to is not None and not (_number(up_to) and up_to > 0):
            raise ValueError("up_to_s must be a positive number or null")
        weights = data["weights"]
        if (not isinstance(weights, list) or len(weights) != members
                or not all(_number(w) and w >= 0 for w in weights)
                or not np.isclose(sum(weights), 1.0)):
            raise ValueError(f"weights must be {members} non-negative numbers that sum to 1")
        return cls(data["band"] == "narrow", None if up_to is None else float(up_to),
                   tuple(float(w) for w in weights))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and bool(np.isfinite(value))


class ConditionTable:
    """Weights by condition: for each band, rows by rising ``up_to_s``, the last one open-ended."""

    def __init__(self, rows: list[ConditionWeights]) -> None:
        self.rows = sorted(rows, key=lambda r: (r.narrowband, np.inf if r.up_to_s is None else r.up_to_s))
        for narrowband in (False, True):
            band = [r for r in self.rows if r.narrowband == narrowband]
            if not band or band[-1].up_to_s is not None or any(r.up_to_s is None for r in band[:-1]):
                raise ValueError("each band needs rows ending in one without a length limit (up_to_s null)")

    def weights(self, condition: Condition) -> tuple[float, ...]:
        for row in self.rows:
            if row.narrowband == condition.narrowband and (row.up_to_s is None
                                                           or condition.speech_s <= row.up_to_s):
                return row.weights
        raise AssertionError("unreachable: every band ends in an open row")

    def to_list(self) -> list[dict[str, Any]]:
        return [row.to_dict() for row in self.rows]

    @classmethod
    def from_list(cls, data: Any, members: int) -> ConditionTable:
        if not isinstance(data, list) or not 2 <= len(data) <= 16:
            raise ValueError("conditions must be a list of 2 to 16 rows")
        return cls([ConditionWeights.from_dict(row, members) for row in data])
