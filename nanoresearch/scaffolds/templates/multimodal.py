"""Seeded experiment: image + text classification (early fusion of both modalities).

Run: OMP_NUM_THREADS=1 python run.py   (reads config.json, data/<dataset>.npz)
Slots (filled by the coding agent, validated before they get here):
  config.json "method"    -> {"name", "family", "params", "steps", "features"}
                             features: {"modalities": ["image", "text"], "text_weight": 0.1-10}
  config.json "ablations" -> variants, e.g. one modality dropped
  method.py (optional)    -> build_model(seed, params) for family "custom"
Writes metrics.json (method, dataset, metric, value, seed, split) and figures/results.png.
"""
import numpy as np
from scipy import sparse

from nr_common import finish, load_config, run_supervised


def featurize(arrays, tr, te, spec):
    from sklearn.feature_extraction.text import TfidfVectorizer

    feat = spec.get("features") if isinstance(spec.get("features"), dict) else {}
    mods = [m for m in feat.get("modalities", ["image", "text"]) if m in ("image", "text")] or ["image"]
    weight = min(max(float(feat.get("text_weight", 1.0)), 0.1), 10.0)
    blocks_tr, blocks_te = [], []
    if "image" in mods:
        img = arrays["images"].reshape(len(arrays["images"]), -1).astype(np.float32) / 255.0
        # pixels stay non-negative so multinomial NB remains usable on the fused features
        blocks_tr.append(sparse.csr_matrix(img[tr] / 10.0))
        blocks_te.append(sparse.csr_matrix(img[te] / 10.0))
    if "text" in mods:
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2)
        blocks_tr.append(weight * vec.fit_transform(arrays["text"][tr]))
        blocks_te.append(weight * vec.transform(arrays["text"][te]))
    return sparse.hstack(blocks_tr).tocsr(), sparse.hstack(blocks_te).tocsr(), True


if __name__ == "__main__":
    cfg = load_config()
    finish(run_supervised(cfg, featurize), cfg)
