"""Computer-vision datasets: scikit-learn digits (8x8) and Debian's Fashion-MNIST idx files."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from nanoresearch.datasets.registry import DatasetBundle, register, subsample
from nanoresearch.errors import UserError
from nanoresearch.types import DatasetCard

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
FASHION_N = 4000  # sampled from 70000: keeps one seeded experiment well under a minute


@register(DatasetCard(
    name="digits", domain="cv", task="classification", source="sklearn (bundled)",
    size="1797 images of 8x8 grey pixels", n_samples=1797, targets="10 digits",
    license="CC BY 4.0 (UCI optical recognition of handwritten digits)", default_metric="accuracy",
    description="scikit-learn load_digits(); pixel intensities 0-16."))
def _digits(card: DatasetCard) -> DatasetBundle:
    from sklearn.datasets import load_digits

    d = load_digits()
    return DatasetBundle(card.name, card,
                         {"images": d.images.astype(np.float32) / 16.0, "y": d.target.astype(np.int64)},
                         {"task": "classification", "class_names": [str(i) for i in range(10)]})


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@register(DatasetCard(
    name="fashion_mnist", domain="cv", task="classification",
    source="debian:dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)",
    size=f"{FASHION_N} images of 28x28 grey pixels (sampled from 70000)", n_samples=FASHION_N,
    targets="10 clothing classes", license="MIT (Zalando Research)", default_metric="accuracy",
    description="Fashion-MNIST train+test pooled, deterministic class-mixed sample of "
                f"{FASHION_N} images (seed 0) so that CPU experiments stay fast."))
def _fashion(card: DatasetCard) -> DatasetBundle:
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        raise UserError(f"Fashion-MNIST not found in {FASHION_DIR}; install it with "
                        "`apt-get install dataset-fashion-mnist`")
    imgs = np.concatenate([_read_idx(FASHION_DIR / f"{p}-images-idx3-ubyte.gz") for p in ("train", "t10k")])
    labels = np.concatenate([_read_idx(FASHION_DIR / f"{p}-labels-idx1-ubyte.gz") for p in ("train", "t10k")])
    idx = subsample(len(labels), FASHION_N)
    return DatasetBundle(card.name, card,
                         {"images": imgs[idx].astype(np.float32) / 255.0, "y": labels[idx].astype(np.int64)},
                         {"task": "classification", "class_names": FASHION_CLASSES})
