"""The encoder network: log-mel windows in, one speaker embedding per window out.

Two backbones share one interface, input (batch, frames, n_mels) and output (batch, dim):

* ``resnet``: a thin ResNet with statistics pooling, sized for a 2-core CPU (our design);
* ``densenet121``: the reference system's DenseNet121 on a 3-channel mel image.

Training objectives live in :mod:`speakerid.objectives`; this module only builds networks.
"""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers, ops

from .config import ModelConfig, reference_model
from .errors import SpeakerIDError

__all__ = ["ModelConfig", "build_encoder", "reference_model"]


def build_encoder(config: ModelConfig, n_mels: int, imagenet_weights: str | Path | None = None
                  ) -> keras.Model:
    """Build the embedding network for features with ``n_mels`` bands and any number of frames."""
    inputs = keras.Input(shape=(None, n_mels), name="log_mel")
    x = inputs
    if config.mean_normalise:
        x = layers.Lambda(lambda t: t - ops.mean(t, axis=1, keepdims=True), name="band_mean_removal")(x)
    if config.backbone == "resnet":
        if imagenet_weights is not None:
            raise SpeakerIDError("ImageNet weights only apply to the densenet121 backbone")
        outputs = _thin_resnet(x, config)
    elif config.backbone == "densenet121":
        outputs = _densenet121(x, config, n_mels, imagenet_weights)
    else:
        raise SpeakerIDError(f"unknown backbone {config.backbone!r}")
    return keras.Model(inputs, outputs, name=f"encoder_{config.backbone}")


def _thin_resnet(x, config: ModelConfig):
    """ResNet on the (time, frequency) plane; a strided stem keeps a 30 s clip cheap on a CPU."""
    x = layers.Reshape((-1, x.shape[-1], 1))(x)
    x = layers.Conv2D(config.channels[0], 3, strides=config.stem_stride, padding="same", use_bias=False,
                      name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU()(x)
    for stage, (width, count) in enumerate(zip(config.channels, config.blocks)):
        for block in range(count):
            stride = 2 if block == 0 and stage > 0 else 1
            x = _residual_block(x, width, stride, f"s{stage}b{block}")
    # (batch, time, freq, channels) -> (batch, time, freq * channels), then mean and std over time.
    freq, width = x.shape[2], x.shape[3]
    x = layers.Reshape((-1, freq * width))(x)
    mean = ops.mean(x, axis=1)
    std = ops.sqrt(ops.maximum(ops.mean(ops.square(x), axis=1) - ops.square(mean), 1e-6))
    x = layers.Concatenate(name="stats_pool")([mean, std])
    x = layers.Dense(config.embedding_dim, name="embedding_dense")(x)
    return layers.BatchNormalization(name="embedding")(x)


def _residual_block(x, width: int, stride: int, name: str):
    shortcut = x
    y = layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_c1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{name}_c2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    if stride != 1 or shortcut.shape[-1] != width:
        # ResNet-D shortcut: average-pool, then a 1x1 convolution. (A strided 1x1 convolution
        # corrupts memory in TensorFlow 2.20/2.21's oneDNN backward pass on CPU.)
        if stride != 1:
            shortcut = layers.AveragePooling2D(stride, padding="same", name=f"{name}_pool")(shortcut)
        shortcut = layers.Conv2D(width, 1, use_bias=False, name=f"{name}_proj")(shortcut)
        shortcut = layers.BatchNormalization(name=f"{name}_bnp")(shortcut)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def _densenet121(x, config: ModelConfig, n_mels: int, imagenet_weights: str | Path | None):
    """The reference: the mel image (bands x frames) repeated on 3 channels into DenseNet121."""
    weights = None
    if imagenet_weights is not None:
        path = Path(imagenet_weights)
        if not path.is_file():
            raise SpeakerIDError(
                f"ImageNet weights file {path} not found. They cannot be downloaded here: copy "
                "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5 to that path, or train "
                "from scratch without --imagenet-weights")
        weights = str(path)
    image = layers.Lambda(lambda t: ops.repeat(ops.expand_dims(ops.transpose(t, (0, 2, 1)), -1),
                                               3, axis=-1), name="mel_image")(x)
    backbone = keras.applications.DenseNet121(include_top=False, weights=weights,
                                              input_shape=(n_mels, None, 3), pooling="avg")
    return layers.Dense(config.embedding_dim, name="embedding")(backbone(image))
