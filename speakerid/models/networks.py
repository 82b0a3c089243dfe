"""The encoder network: log-mel windows in, one speaker embedding per window out.

Three backbones share one interface, input (batch, frames, n_mels) and output (batch, dim):

* ``resnet``: a thin ResNet with statistics pooling, sized for a 2-core CPU (our design);
* ``densenet121``: the reference system's DenseNet121 on a 3-channel mel image;
* ``ecapa``: ECAPA-TDNN as SpeechBrain computes it (:mod:`speakerid.models.ecapa`), for its VoxCeleb weights.

Training objectives live in :mod:`speakerid.models.objectives`; this module only builds networks.
"""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers, ops

from ..config import ModelConfig, reference_model
from ..errors import SpeakerIDError
from ..i18n import _
from .ecapa import ecapa_tdnn

__all__ = ["ModelConfig", "build_encoder", "fold_batch_norms", "inference_form", "reference_model"]


def build_encoder(config: ModelConfig, n_mels: int, imagenet_weights: str | Path | None = None,
                  folded: bool = False) -> keras.Model:
    """Build the embedding network for features with ``n_mels`` bands and any number of frames.

    ``folded``: the thin ResNet's inference form, without batch normalisation (see
    :func:`fold_batch_norms`)."""
    inputs = keras.Input(shape=(None, n_mels), name="log_mel")
    x = inputs
    if config.mean_normalise:
        x = layers.Lambda(lambda t: t - ops.mean(t, axis=1, keepdims=True), name="band_mean_removal")(x)
    if imagenet_weights is not None and config.backbone != "densenet121":
        raise SpeakerIDError(_("ImageNet weights only apply to the densenet121 backbone"))
    if config.backbone == "resnet":
        outputs = _thin_resnet(x, config, folded)
    elif config.backbone == "ecapa":
        outputs = ecapa_tdnn(x, config)
    elif config.backbone == "densenet121":
        outputs = _densenet121(x, config, n_mels, imagenet_weights)
    else:
        raise SpeakerIDError(_("unknown backbone {backbone!r}").format(backbone=config.backbone))
    return keras.Model(inputs, outputs, name=f"encoder_{config.backbone}{'_folded' if folded else ''}")


def _thin_resnet(x, config: ModelConfig, folded: bool = False):
    """ResNet on the (time, frequency) plane; a strided stem keeps a 30 s clip cheap on a CPU.

    ``folded`` builds the inference form: no batch normalisation layers, biases in their place.
    """
    x = layers.Reshape((-1, x.shape[-1], 1))(x)
    x = _conv_bn(x, config.channels[0], 3, config.stem_stride, "stem_conv", "stem_bn", folded)
    x = layers.ReLU()(x)
    for stage, (width, count) in enumerate(zip(config.channels, config.blocks)):
        for block in range(count):
            stride = 2 if block == 0 and stage > 0 else 1
            x = _residual_block(x, width, stride, f"s{stage}b{block}", folded)
    # (batch, time, freq, channels) -> (batch, time, freq * channels), then mean and std over time.
    freq, width = x.shape[2], x.shape[3]
    x = layers.Reshape((-1, freq * width))(x)
    mean = ops.mean(x, axis=1)
    std = ops.sqrt(ops.maximum(ops.mean(ops.square(x), axis=1) - ops.square(mean), 1e-6))
    x = layers.Concatenate(name="stats_pool")([mean, std])
    x = layers.Dense(config.embedding_dim, name="embedding_dense")(x)
    return x if folded else layers.BatchNormalization(name="embedding")(x)


def _residual_block(x, width: int, stride: int, name: str, folded: bool):
    shortcut = x
    y = _conv_bn(x, width, 3, stride, f"{name}_c1", f"{name}_bn1", folded)
    y = layers.ReLU()(y)
    y = _conv_bn(y, width, 3, 1, f"{name}_c2", f"{name}_bn2", folded)
    if stride != 1 or shortcut.shape[-1] != width:
        # ResNet-D shortcut: average-pool, then a 1x1 convolution. (A strided 1x1 convolution
        # corrupts memory in TensorFlow 2.20/2.21's oneDNN backward pass on CPU.)
        if stride != 1:
            shortcut = layers.AveragePooling2D(stride, padding="same", name=f"{name}_pool")(shortcut)
        shortcut = _conv_bn(shortcut, width, 1, 1, f"{name}_proj", f"{name}_bnp", folded)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def _conv_bn(x, width: int, kernel: int, stride, conv_name: str, bn_name: str, folded: bool):
    """A convolution and its batch normalisation, or (folded) one convolution with a bias."""
    x = layers.Conv2D(width, kernel, strides=stride, padding="same", use_bias=folded, name=conv_name)(x)
    return x if folded else layers.BatchNormalization(name=bn_name)(x)


def fold_batch_norms(network: keras.Model, config: ModelConfig) -> keras.Model:
    """The same function with every batch normalisation folded into the layer before it.

    For inference only: each normalisation is a fixed affine map once trained, so it folds into
    the convolution's kernel and a bias, and the forward pass makes fewer passes over memory
    (about 10 % of it on 2 cores). The DenseNet121 backbone is returned unchanged.
    """
    if config.backbone != "resnet":
        return network
    folded = build_encoder(config, network.input_shape[-1], folded=True)
    by_name = {layer.name: layer for layer in network.layers}
    for layer in folded.layers:
        if not layer.weights:
            continue
        source, bn = by_name[layer.name], by_name[_norm_after(layer.name)]
        gamma, beta, mean, variance = (w.numpy() for w in (bn.gamma, bn.beta, bn.moving_mean,
                                                             bn.moving_variance))
        scale = gamma / (variance + bn.epsilon) ** 0.5
        bias = source.bias.numpy() if source.use_bias else 0.0
        layer.set_weights([source.kernel.numpy() * scale, (bias - mean) * scale + beta])
    return folded


def inference_form(network: keras.Model, config: ModelConfig) -> keras.Model:
    """The fastest exact-enough form of a trained network for embedding.

    The thin ResNet: batch norms folded (:func:`fold_batch_norms`). ECAPA-TDNN: its products in
    bfloat16 with float32 accumulation where the CPU has bfloat16 instructions (30 s clip on
    2 cores: 0.55 -> 0.35 s; embeddings' cosine with float32 above 0.9999). Others: unchanged.
    """
    from ..runtime import bfloat16_is_fast

    if config.backbone == "resnet":
        return fold_batch_norms(network, config)
    if config.backbone == "ecapa" and bfloat16_is_fast():
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            fast = build_encoder(config, network.input_shape[-1])
        finally:
            keras.config.set_dtype_policy(previous)
        fast.set_weights(network.get_weights())
        return fast
    return network


def _norm_after(layer_name: str) -> str:
    """The name of the batch normalisation that follows a layer of the thin ResNet."""
    fixed = {"stem_conv": "stem_bn", "embedding_dense": "embedding"}
    if layer_name in fixed:
        return fixed[layer_name]
    block, kind = layer_name.rsplit("_", 1)
    return f"{block}_{ {'c1': 'bn1', 'c2': 'bn2', 'proj': 'bnp'}[kind] }"


def _densenet121(x, config: ModelConfig, n_mels: int, imagenet_weights: str | Path | None):
    """The reference: the mel image (bands x frames) repeated on 3 channels into DenseNet121."""
    weights = None
    if imagenet_weights is not None:
        path = Path(imagenet_weights)
        if not path.is_file():
            raise SpeakerIDError(
                _("ImageNet weights file {path} not found. They cannot be downloaded here: copy "
                  "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5 to that path, or train "
                  "from scratch without --imagenet-weights").format(path=path))
        weights = str(path)
    image = layers.Lambda(lambda t: ops.repeat(ops.expand_dims(ops.transpose(t, (0, 2, 1)), -1),
                                               3, axis=-1), name="mel_image")(x)
    backbone = keras.applications.DenseNet121(include_top=False, weights=weights,
                                              input_shape=(n_mels, None, 3), pooling="avg")
    return layers.Dense(config.embedding_dim, name="embedding")(backbone(image))
