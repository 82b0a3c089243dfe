"""ECAPA-TDNN (Desplanques et al., Interspeech 2020) in Keras, computing exactly what SpeechBrain's
``ECAPA_TDNN`` computes, so that its VoxCeleb-trained weights can be loaded into it.

Layout is channels-last, (batch, frames, channels). Every layer is named after the SpeechBrain
module it reproduces (``blocks.1.tdnn1.conv`` becomes ``blocks_1_tdnn1_conv``), which is all
:func:`load_speechbrain_state` needs to map a checkpoint onto it. What SpeechBrain does that a
plain Keras layer would not: its "same" convolutions pad by reflection, each TDNN block is
convolution, ReLU, *then* batch normalisation, and the attentive pooling sees every frame's
channels beside the utterance's mean and standard deviation (global context).
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
from keras import layers, ops

from ..config import ModelConfig

BATCH_NORM_EPSILON = 1e-5  # torch's default
STATISTICS_EPSILON = 1e-12  # SpeechBrain clamps variances here before the square root


@keras.saving.register_keras_serializable(package="speakerid")
class ReflectionPadding1D(layers.Layer):
    """Pads the time axis by reflection, as SpeechBrain's ``Conv1d(padding="same")`` does."""

    def __init__(self, pad: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pad = pad

    def call(self, x):
        return ops.pad(x, [[0, 0], [self.pad, self.pad], [0, 0]], mode="reflect")

    def get_config(self) -> dict:
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable(package="speakerid")
class GlobalContextDense(layers.Layer):
    """A pointwise convolution over [frames; utterance mean; utterance std] without building it.

    SpeechBrain concatenates each frame's channels with the mean and standard deviation repeated
    over every frame, then applies a 1x1 convolution. The same sum is ``frames @ K_x`` plus one
    ``mean @ K_m + std @ K_s`` per utterance: the kernel is SpeechBrain's, the (frames, 3 x 3072)
    tensor is never made.
    """

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape) -> None:
        channels = input_shape[0][-1]
        self.kernel = self.add_weight(shape=(3 * channels, self.units), name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        frames, mean, std = inputs
        channels = frames.shape[-1]
        per_utterance = (ops.matmul(mean, self.kernel[channels:2 * channels])
                         + ops.matmul(std, self.kernel[2 * channels:]) + self.bias)
        return ops.matmul(frames, self.kernel[:channels]) + per_utterance[:, None, :]

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


def ecapa_tdnn(x, config: ModelConfig):
    """The network from (batch, frames, n_mels) features to (batch, embedding_dim)."""
    channels, kernels, dilations = config.channels, config.kernel_sizes, config.dilations
    x = _tdnn(x, channels[0], kernels[0], dilations[0], "blocks_0")
    outputs = []
    for i in range(1, len(channels) - 1):
        x = _se_res2net(x, channels[i], kernels[i], dilations[i], config, f"blocks_{i}")
        outputs.append(x)
    x = _tdnn(layers.Concatenate()(outputs), channels[-1], kernels[-1], dilations[-1], "mfa")
    x = _attentive_statistics(x, config.attention_channels)
    x = layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, name="asp_bn")(x)
    return layers.Dense(config.embedding_dim, name="fc")(x)


def _conv(x, width: int, kernel: int, dilation: int, name: str):
    """SpeechBrain's Conv1d: reflection padding of dilation * (kernel - 1) // 2 frames each side."""
    pad = dilation * (kernel - 1) // 2
    if pad:
        x = ReflectionPadding1D(pad, name=f"{name}_pad")(x)
    if kernel == 1:  # a pointwise convolution is a matrix product: Dense runs it as one
        return layers.Dense(width, name=name)(x)
    return layers.Conv1D(width, kernel, dilation_rate=dilation, name=name)(x)


def _tdnn(x, width: int, kernel: int, dilation: int, name: str):
    """SpeechBrain's TDNNBlock: convolution, ReLU, then batch normalisation."""
    x = layers.ReLU()(_conv(x, width, kernel, dilation, f"{name}_conv"))
    return layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, name=f"{name}_norm")(x)


def _se_res2net(x, width: int, kernel: int, dilation: int, config: ModelConfig, name: str):
    """TDNN, Res2Net (hierarchical split convolutions), TDNN, squeeze-excitation, residual."""
    residual = x if x.shape[-1] == width else _conv(x, width, 1, 1, f"{name}_shortcut")
    x = _tdnn(x, width, 1, 1, f"{name}_tdnn1")
    chunks = ops.split(x, config.res2net_scale, axis=-1)
    y = [chunks[0]]
    for i in range(1, config.res2net_scale):
        inputs = chunks[i] if i == 1 else layers.Add()([chunks[i], y[-1]])
        y.append(_tdnn(inputs, width // config.res2net_scale, kernel, dilation,
                       f"{name}_res2net_block_blocks_{i - 1}"))
    x = _tdnn(layers.Concatenate()(y), width, 1, 1, f"{name}_tdnn2")
    squeeze = ops.mean(x, axis=1, keepdims=True)
    squeeze = layers.Dense(config.se_channels, activation="relu", name=f"{name}_se_block_conv1")(squeeze)
    squeeze = layers.Dense(width, activation="sigmoid", name=f"{name}_se_block_conv2")(squeeze)
    return layers.Add()([layers.Multiply()([x, squeeze]), residual])


def _attentive_statistics(x, attention_channels: int):
    """Attention over frames (seeing the utterance's mean and spread), then weighted mean and std."""
    context = GlobalContextDense(attention_channels, name="asp_tdnn_conv")([x, *_statistics(x, None)])
    attention = layers.ReLU()(context)
    attention = layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, name="asp_tdnn_norm")(attention)
    attention = ops.tanh(attention)
    attention = ops.softmax(layers.Dense(x.shape[-1], name="asp_conv")(attention), axis=1)
    mean, std = _statistics(x, attention)
    return layers.Concatenate(name="asp")([mean, std])


def _statistics(x, weights):
    """Mean and standard deviation over frames, uniform or by ``weights`` (summing to 1 over time)."""
    mean = ops.mean(x, axis=1) if weights is None else ops.sum(weights * x, axis=1)
    squared = ops.square(x - mean[:, None])
    variance = ops.mean(squared, axis=1) if weights is None else ops.sum(weights * squared, axis=1)
    return mean, ops.sqrt(ops.maximum(variance, STATISTICS_EPSILON))


def load_speechbrain_state(network: keras.Model, state: Mapping[str, np.ndarray]) -> None:
    """Copy a SpeechBrain ``ECAPA_TDNN`` state dict (plain arrays, by name) into ``network``.

    Every weight of the network must be found and every array of ``state`` used (but the batch
    norms' step counters): a checkpoint of another shape is refused with the names that differ.
    """
    unused = {key for key in state if not key.endswith("num_batches_tracked")}
    for layer in network.layers:
        if not layer.weights:
            continue
        prefix = _torch_prefix(layer)
        if isinstance(layer, layers.BatchNormalization):
            keys = [f"{prefix}.{n}" for n in ("weight", "bias", "running_mean", "running_var")]
            values = [state[k] for k in _present(keys, state)]
        else:
            keys = _present([f"{prefix}.weight", f"{prefix}.bias"], state)
            kernel = state[keys[0]]  # torch (out, in, kernel) -> Keras (kernel, in, out)
            kernel = np.transpose(kernel, (2, 1, 0))
            values = [kernel[0] if len(layer.weights[0].shape) == 2 else kernel, state[keys[1]]]
        layer.set_weights([np.asarray(v, dtype=np.float32) for v in values])
        unused -= set(keys)
    if unused:
        raise ValueError(f"checkpoint arrays the network has no place for: {sorted(unused)[:8]}")


def _torch_prefix(layer: layers.Layer) -> str:
    """``blocks_1_tdnn1_conv`` -> ``blocks.1.tdnn1.conv.conv`` (SpeechBrain nests its layers)."""
    path = layer.name
    for nested in ("res2net_block", "se_block", "asp_bn"):
        path = path.replace(nested, nested.replace("_", "-"))
    path = path.replace("_", ".").replace("-", "_")
    return f"{path}.norm" if isinstance(layer, layers.BatchNormalization) else f"{path}.conv"


def _present(keys: list[str], state: Mapping[str, np.ndarray]) -> list[str]:
    missing = [k for k in keys if k not in state]
    if missing:
        raise ValueError(f"checkpoint lacks {missing}")
    return keys
