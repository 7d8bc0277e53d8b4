"""The offline catalog: every domain loads offline, cards are complete, staging writes
pickle-free files the sandboxed experiments can read."""
import json

import numpy as np
import pytest

from nanoresearch.datasets import DOMAINS, get_catalog, load, resolve_name, stage
from nanoresearch.errors import UserError

# one fast dataset per domain (twemoji installs its npm package on first use)
PER_DOMAIN = {"tabular": "wine", "cv": "digits", "nlp": "trump_tweets", "multimodal": "twemoji",
              "timeseries": "co2", "graph": "karate_club", "audio": "spoken_language_id"}


def test_catalog_covers_all_domains_with_complete_cards():
    cat = get_catalog()
    assert {c.domain for c in cat.values()} == set(DOMAINS)
    for name, card in cat.items():
        assert card.name == name and card.task and card.size and card.license and card.default_metric
        assert card.targets, name


@pytest.mark.parametrize("domain", sorted(PER_DOMAIN))
def test_each_domain_loads_offline(domain):
    bundle = load(PER_DOMAIN[domain])
    assert bundle.card.domain == domain
    assert all(a.dtype != object for a in bundle.arrays.values())
    if "y" in bundle.arrays:
        y = bundle.arrays["y"]
        first = next(iter(bundle.arrays.values()))
        assert len(np.unique(y)) >= 2
        if "edges" not in bundle.arrays:
            assert len(first) == len(y)
    if domain == "timeseries":
        assert np.isfinite(bundle.arrays["series"]).all() and len(bundle.arrays["series"]) > 100


def test_audio_features_separate_languages():
    b = load("spoken_language_id")
    X, y = b.arrays["X"], b.arrays["y"]
    assert X.shape == (500, 74) and np.isfinite(X).all()
    assert b.meta["class_names"] == ["en", "es", "fr", "it", "ru"]
    assert np.bincount(y).tolist() == [100] * 5


def test_stage_writes_self_contained_files(tmp_path):
    npz = stage("breast_cancer", tmp_path / "data")
    assert npz == tmp_path / "data" / "breast_cancer.npz"
    with np.load(npz, allow_pickle=False) as z:
        assert z["X"].shape == (569, 30) and set(np.unique(z["y"])) == {0, 1}
    doc = json.loads((tmp_path / "data" / "breast_cancer.json").read_text())
    assert doc["card"]["task"] == "classification" and doc["meta"]["class_names"] == ["malignant", "benign"]
    mtime = npz.stat().st_mtime_ns
    assert stage("breast_cancer", tmp_path / "data") == npz and npz.stat().st_mtime_ns == mtime


def test_stage_text_without_pickle(tmp_path):
    npz = stage("trump_tweets", tmp_path)
    with np.load(npz, allow_pickle=False) as z:
        assert z["text"].dtype.kind == "U" and len(z["text"]) == 3000


def test_resolve_names():
    assert resolve_name("Fashion-MNIST") == "fashion_mnist"
    assert resolve_name("breast cancer") == "breast_cancer"
    with pytest.raises(UserError, match="not in the offline catalog"):
        resolve_name("imagenet-21k")


def test_multimodal_needs_npm(monkeypatch, tmp_path):
    from nanoresearch.datasets import multimodal

    monkeypatch.setattr(multimodal, "_candidates", lambda base: [tmp_path / "none"])
    monkeypatch.setattr(multimodal.shutil, "which", lambda name: None)
    with pytest.raises(UserError, match="apt-get install npm"):
        multimodal.ensure_emoji_package(tmp_path)
