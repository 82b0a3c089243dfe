"""The sidebar's words for the model in use and how strict its decision is."""

from __future__ import annotations

from types import SimpleNamespace

from speakerid import paths
from speakerid_ui.plain_words import model_words, strictness_words


def network(backbone: str) -> SimpleNamespace:
    return SimpleNamespace(model_config=SimpleNamespace(backbone=backbone))


def test_the_shipped_fusion_is_named_by_its_networks():
    shipped = SimpleNamespace(members=[network("ecapa"), network("resnet")], path=paths.SHIPPED_WEIGHTS)
    assert model_words(shipped) == "ECAPA-TDNN + thin ResNet (shipped)"


def test_a_trained_model_is_named_by_its_run():
    trained = SimpleNamespace(model_config=SimpleNamespace(backbone="densenet121"), path="/runs/x-1/model")
    assert model_words(trained) == "Siamese DenseNet (x-1)"


def test_strictness_in_words_from_the_false_accept_rate():
    assert strictness_words(0.01) == ("strict: about 1 in 100 comparisons of two different people "
                                      "would be taken for the same person")
    assert strictness_words(0.0005).startswith("very strict: about 1 in 2,000 ")
    assert strictness_words(0.2).startswith("lenient: about 1 in 5 ")
    assert strictness_words(0.0).startswith("very strict: no two different people")
    assert strictness_words(None) == "set by hand (not measured on held-out voices)"
