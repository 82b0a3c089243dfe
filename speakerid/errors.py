"""The one exception type users see: every refusal carries a message a person can act on."""


class SpeakerIDError(Exception):
    """Raised for any input or state that speakerid refuses (bad audio, unknown speaker, ...)."""
