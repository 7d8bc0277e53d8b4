"""Seeded experiment: image classification (pixels flattened, optional PCA/standardize).

Run: OMP_NUM_THREADS=1 python run.py   (reads config.json, data/<dataset>.npz)
Slots (filled by the coding agent, validated before they get here):
  config.json "method"    -> {"name", "family", "params", "steps", "features"}
                             features: "pixels" or "hog" (gradient-orientation histograms)
  config.json "ablations" -> variants of the method
  method.py (optional)    -> build_model(seed, params) for family "custom"
Writes metrics.json (method, dataset, metric, value, seed, split) and figures/results.png.
"""
import numpy as np

from nr_common import finish, load_config, run_supervised


def hog_features(images: np.ndarray, cells: int = 4, bins: int = 8) -> np.ndarray:
    """Histogram of gradient orientations per cell: a cheap shape descriptor."""
    imgs = images if images.ndim == 3 else images.mean(-1)
    gy, gx = np.gradient(imgs.astype(np.float32), axis=(1, 2))
    mag, ang = np.hypot(gx, gy), (np.arctan2(gy, gx) % np.pi) / np.pi * bins
    n, h, w = imgs.shape
    ch, cw = h // cells, w // cells
    feats = np.zeros((n, cells, cells, bins), dtype=np.float32)
    b = np.minimum(ang.astype(int), bins - 1)
    for i in range(cells):
        for j in range(cells):
            sl = (slice(None), slice(i * ch, (i + 1) * ch), slice(j * cw, (j + 1) * cw))
            for k in range(bins):
                feats[:, i, j, k] = (mag[sl] * (b[sl] == k)).sum((1, 2))
    feats = feats.reshape(n, -1)
    return feats / (np.linalg.norm(feats, axis=1, keepdims=True) + 1e-6)


def featurize(arrays, tr, te, spec):
    imgs = arrays["images"]
    kind = spec.get("features", "pixels")
    if kind == "hog":
        X = hog_features(imgs)
    elif kind == "pixels+hog":
        X = np.hstack([imgs.reshape(len(imgs), -1), hog_features(imgs)])
    else:
        X = imgs.reshape(len(imgs), -1)
    return X[tr], X[te], False


if __name__ == "__main__":
    cfg = load_config()
    finish(run_supervised(cfg, featurize), cfg)
