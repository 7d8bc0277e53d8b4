"""Seeded experiment: text classification with bag-of-n-gram features.

Run: OMP_NUM_THREADS=1 python run.py   (reads config.json, data/<dataset>.npz)
Slots (filled by the coding agent, validated before they get here):
  config.json "method"    -> {"name", "family", "params", "steps", "features"}
                             features: {"analyzer": "word"|"char_wb", "ngram_max": 1-3,
                                        "max_features": int, "tfidf": bool,
                                        "hash_buckets": int (hashing instead of a vocabulary)}
  config.json "ablations" -> variants of the method
  method.py (optional)    -> build_model(seed, params) for family "custom"
Writes metrics.json (method, dataset, metric, value, seed, split) and figures/results.png.
"""
from nr_common import finish, load_config, run_supervised


def vectorizer(feat: dict):
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    feat = feat if isinstance(feat, dict) else {}
    analyzer = feat.get("analyzer", "word") if feat.get("analyzer") in ("word", "char_wb") else "word"
    lo = 2 if analyzer == "char_wb" else 1
    hi = min(max(int(feat.get("ngram_max", lo + 1 if analyzer == "char_wb" else 1)), lo), 4)
    cls = TfidfVectorizer if feat.get("tfidf", True) else CountVectorizer
    return cls(analyzer=analyzer, ngram_range=(lo, hi), lowercase=True,
               max_features=min(int(feat.get("max_features", 20000)), 50000), min_df=2)


def hashed(feat: dict):
    """Features hashed into feat["hash_buckets"] buckets (no vocabulary kept), tf-idf
    weighted unless feat["tfidf"] is false: the capacity axis of a hashing vectorizer."""
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.pipeline import make_pipeline

    analyzer = feat.get("analyzer", "word") if feat.get("analyzer") in ("word", "char_wb") else "word"
    lo = 2 if analyzer == "char_wb" else 1
    hi = min(max(int(feat.get("ngram_max", lo + 1 if analyzer == "char_wb" else 1)), lo), 4)
    hv = HashingVectorizer(n_features=min(max(int(feat["hash_buckets"]), 2), 2 ** 20), analyzer=analyzer,
                           ngram_range=(lo, hi), lowercase=True, alternate_sign=False,
                           norm=None if feat.get("tfidf", True) else "l2")
    return make_pipeline(hv, TfidfTransformer()) if feat.get("tfidf", True) else hv


def featurize(arrays, tr, te, spec):
    text = arrays["text"]
    feat = spec.get("features") if isinstance(spec.get("features"), dict) else {}
    vec = hashed(feat) if feat.get("hash_buckets") else vectorizer(feat)
    Xtr = vec.fit_transform(text[tr])
    return Xtr, vec.transform(text[te]), True, None, vec


if __name__ == "__main__":
    cfg = load_config()
    finish(run_supervised(cfg, featurize), cfg)
