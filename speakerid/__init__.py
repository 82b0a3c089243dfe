"""speakerid: tell who is speaking from a few seconds of voice."""

from .errors import SpeakerIDError

__all__ = ["Encoder", "Gallery", "SpeakerIDError", "load_model"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy: `import speakerid` stays fast (no TensorFlow) for the CLI's --help and the errors.
    if name == "Encoder":
        from .models.encoder import Encoder
        return Encoder
    if name == "Gallery":
        from .gallery import Gallery
        return Gallery
    if name == "load_model":
        from .models.loader import load_model
        return load_model
    raise AttributeError(name)
