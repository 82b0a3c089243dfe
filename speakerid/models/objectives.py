"""Training objectives, kept beside the encoder rather than inside it.

* :func:`contrastive_loss`: the reference's pair loss on Euclidean distance (Hadsell et al. 2006).
* :class:`AdditiveAngularMargin`: ArcFace / AAM-softmax head (Deng et al. 2019), the usual
  state of the art for speaker embeddings; used in training only and dropped afterwards.
"""

from __future__ import annotations

import math

import keras
from keras import ops


def euclidean_distance(a, b):
    return ops.sqrt(ops.maximum(ops.sum(ops.square(a - b), axis=-1), 1e-12))


def contrastive_loss(same, distance, margin: float = 3.0):
    """Pull same-speaker pairs together; push different pairs at least ``margin`` apart."""
    same = ops.cast(same, distance.dtype)
    positive = same * ops.square(distance)
    negative = (1.0 - same) * ops.square(ops.maximum(margin - distance, 0.0))
    return ops.mean(positive + negative)


class AdditiveAngularMargin(keras.layers.Layer):
    """Cosine logits with the margin ``m`` added to the target class angle, scaled by ``s``."""

    def __init__(self, classes: int, margin: float = 0.2, scale: float = 30.0, **kwargs):
        super().__init__(**kwargs)
        self.classes = classes
        self.margin = margin
        self.scale = scale

    def build(self, input_shape):
        self.centres = self.add_weight(shape=(input_shape[-1], self.classes),
                                       initializer="glorot_uniform", name="centres")

    def call(self, embeddings, labels):
        cosine = ops.matmul(_unit(embeddings, -1), _unit(self.centres, 0))
        cosine = ops.clip(cosine, -1.0 + 1e-7, 1.0 - 1e-7)
        sine = ops.sqrt(1.0 - ops.square(cosine))
        with_margin = cosine * math.cos(self.margin) - sine * math.sin(self.margin)
        # Past theta + m > pi the margin would reward a worse angle: fall back (as in ArcFace).
        threshold = math.cos(math.pi - self.margin)
        with_margin = ops.where(cosine > threshold, with_margin,
                                cosine - math.sin(math.pi - self.margin) * self.margin)
        target = ops.one_hot(labels, self.classes)
        return self.scale * (target * with_margin + (1.0 - target) * cosine)

    def get_config(self):
        return {**super().get_config(), "classes": self.classes, "margin": self.margin,
                "scale": self.scale}


def _unit(x, axis):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12))
