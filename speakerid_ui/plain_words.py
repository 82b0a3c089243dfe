"""The model in use and how strict its decision is, said in words for the sidebar (the figures go
in an expander): a newsroom user reads "strict", not "threshold 3.32 · 1% false accepts"."""

from __future__ import annotations

from pathlib import Path

from speakerid import numerals, paths
from speakerid.i18n import N_, _
from speakerid.models.base import network_name

# (most false accepts per comparison, the word): the first that holds names the decision.
STRICTNESS = ((0.001, N_("very strict")), (0.01, N_("strict")), (0.05, N_("balanced")), (1.0, N_("lenient")))


def model_words(encoder: object) -> str:
    """Its networks and which model folder it is: "ECAPA-TDNN + thin ResNet (shipped)"."""
    members = getattr(encoder, "members", None) or [encoder]
    names = " + ".join(network_name(m.model_config) for m in members)
    where = Path(encoder.path) if getattr(encoder, "path", None) else None
    if where is None:
        origin = _("in memory")
    elif where.resolve() == paths.SHIPPED_WEIGHTS:
        origin = _("shipped")
    else:  # a run's model/ is named by its run
        origin = where.parent.name if where.name == "model" else where.name
    return f"{names} ({origin})"


def strictness_words(false_accept_rate: float | None) -> str:
    """"strict: about 1 in 100 comparisons of two different people would be taken for the same
    person"; for a threshold set without held-out speakers, says so."""
    if false_accept_rate is None:
        return _("set by hand (not measured on held-out voices)")
    word = _(next(word for limit, word in STRICTNESS if false_accept_rate <= limit))
    if false_accept_rate <= 0:
        return _("{word}: no two different people were taken for the same person in its tests").format(
            word=word)
    return _("{word}: about 1 in {count} comparisons of two different people would be taken for the same "
             "person").format(word=word, count=numerals.number(round(1 / false_accept_rate), ","))
