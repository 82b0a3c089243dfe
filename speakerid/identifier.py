"""What the pipeline stages (:mod:`speakerid.longform`, :mod:`speakerid.timeline`) ask of a gallery:
its model, and a ranking of one embedding.

A protocol rather than :class:`speakerid.gallery.Gallery` itself because the gallery uses those
stages (it streams a long file through :class:`speakerid.longform.LongRecording`): naming the class
there would tie the two modules into a circle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from .models.base import SpeakerModel
    from .results import Identification


class Identifier(Protocol):
    """Anything that ranks enrolled speakers for an embedding of its own model (a Gallery)."""

    @property
    def encoder(self) -> SpeakerModel: ...

    def identify_embedding(self, embedding: np.ndarray, top_k: int = 5,
                           speech_s: float | None = None) -> Identification: ...
