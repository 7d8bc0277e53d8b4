"""Seeded experiment: node classification or link prediction on a small graph.

Run: OMP_NUM_THREADS=1 python run.py   (reads config.json, data/<dataset>.npz)
Slots (filled by the coding agent, validated before they get here):
  config.json "method" -> {"name", "family", "params", "steps", "features"}
     node classification: zoo family on features "adjacency" | "spectral" | "structural" |
        "propagated" (or a list of them); heuristic family "label_propagation"
     link prediction: heuristic families common_neighbors, jaccard, adamic_adar,
        preferential_attachment, or a zoo classifier on edge features (all heuristics +
        spectral-embedding products)
  config.json "ablations" -> variants of the method
Writes metrics.json (method, dataset, metric, value, seed, split) and figures/results.png.
"""
import numpy as np

from nr_common import (Recorder, classification_metrics, finish, load_config, load_dataset,
                       make_estimator, method_specs, predict_scores, split_indices)

HEURISTICS = ("common_neighbors", "jaccard", "adamic_adar", "preferential_attachment")


def adjacency(n: int, edges: np.ndarray) -> np.ndarray:
    A = np.zeros((n, n), dtype=np.float64)
    A[edges[:, 0], edges[:, 1]] = A[edges[:, 1], edges[:, 0]] = 1.0
    np.fill_diagonal(A, 0.0)
    return A


def spectral(A: np.ndarray, k: int = 8) -> np.ndarray:
    d = A.sum(1) + 1e-9
    L = np.eye(len(A)) - A / np.sqrt(d[:, None] * d[None, :])
    _, vecs = np.linalg.eigh(L)
    return vecs[:, 1: k + 1]


def node_features(A: np.ndarray, x: np.ndarray, kinds) -> np.ndarray:
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or ["adjacency"])
    deg = A.sum(1)
    blocks = []
    for kind in kinds:
        if kind == "spectral":
            blocks.append(spectral(A, min(8, len(A) - 2)))
        elif kind == "structural":
            tri = np.diag(A @ A @ A) / 2
            clust = tri / np.maximum(deg * (deg - 1) / 2, 1)
            pr = np.full(len(A), 1 / len(A))
            for _ in range(50):
                pr = 0.15 / len(A) + 0.85 * (A / np.maximum(deg, 1)[:, None]).T @ pr
            blocks.append(np.stack([deg, clust, pr * len(A), (A @ deg) / np.maximum(deg, 1)], 1))
        elif kind == "propagated":
            S = A + np.eye(len(A))
            S = S / np.sqrt(S.sum(1)[:, None] * S.sum(1)[None, :])
            blocks.append(S @ S @ x)
        else:
            blocks.append(A)
    return np.hstack(blocks)


def label_propagation(A: np.ndarray, y: np.ndarray, tr: np.ndarray, alpha: float = 0.9) -> np.ndarray:
    d = A.sum(1) + 1e-9
    S = A / np.sqrt(d[:, None] * d[None, :])
    Y0 = np.zeros((len(A), int(y.max()) + 1))
    Y0[tr, y[tr]] = 1.0
    F = Y0.copy()
    for _ in range(50):
        F = alpha * S @ F + (1 - alpha) * Y0
    return F.argmax(1)


def run_nodes(cfg, ds, arrays, rec):
    y, x = arrays["y"], arrays.get("x")
    A = adjacency(len(y), arrays["edges"])
    x = x if x is not None else np.eye(len(y))
    for seed in cfg["seeds"]:
        tr, te = split_indices(y, len(y), seed, cfg.get("test_frac", 0.5))
        for spec in method_specs(cfg):
            if spec.get("family") == "label_propagation":
                pred = label_propagation(A, y, tr)[te]
            else:
                X = node_features(A, x, spec.get("features"))
                est = make_estimator(spec, seed, "clf")
                est.fit(X[tr], y[tr])
                pred = est.predict(X[te])
            rec.add(spec["name"], ds, classification_metrics(y[te], pred), seed)


def edge_scores(A: np.ndarray, pairs: np.ndarray, family: str) -> np.ndarray:
    u, v = pairs[:, 0], pairs[:, 1]
    deg = A.sum(1)
    if family == "common_neighbors":
        return (A[u] * A[v]).sum(1)
    if family == "jaccard":
        return (A[u] * A[v]).sum(1) / np.maximum(((A[u] + A[v]) > 0).sum(1), 1)
    if family == "adamic_adar":
        w = 1.0 / np.log(np.maximum(deg, 2))
        return (A[u] * A[v] * w[None, :]).sum(1)
    return deg[u] * deg[v]


def edge_features(A: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    emb = spectral(A, min(8, len(A) - 2))
    heur = np.stack([edge_scores(A, pairs, h) for h in HEURISTICS], 1)
    return np.hstack([heur, emb[pairs[:, 0]] * emb[pairs[:, 1]]])


def sample_non_edges(n: int, A_full: np.ndarray, k: int, rng) -> np.ndarray:
    out = set()
    while len(out) < k:
        a, b = rng.integers(n, size=2)
        if a != b and A_full[a, b] == 0:
            out.add((min(a, b), max(a, b)))
    return np.asarray(sorted(out))


def run_links(cfg, ds, arrays, doc, rec):
    from sklearn.metrics import average_precision_score, roc_auc_score

    edges, n = arrays["edges"], int(doc["meta"]["n_nodes"])
    A_full = adjacency(n, edges)
    for seed in cfg["seeds"]:
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(edges))
        n_test = max(2, int(0.2 * len(edges)))
        test_pos, train_pos = edges[perm[:n_test]], edges[perm[n_test:]]
        A = adjacency(n, train_pos)
        neg = sample_non_edges(n, A_full, n_test + len(train_pos), rng)
        test_pairs = np.vstack([test_pos, neg[:n_test]])
        y_test = np.r_[np.ones(n_test), np.zeros(n_test)]
        for spec in method_specs(cfg):
            fam = spec.get("family")
            if fam in HEURISTICS:
                s = edge_scores(A, test_pairs, fam)
            else:
                train_pairs = np.vstack([train_pos, neg[n_test:]])
                y_train = np.r_[np.ones(len(train_pos)), np.zeros(len(train_pos))].astype(int)
                est = make_estimator(spec, seed, "clf")
                est.fit(edge_features(A, train_pairs), y_train)
                s = predict_scores(est, edge_features(A, test_pairs))
                s = est.predict(edge_features(A, test_pairs)) if s is None else s
            rec.add(spec["name"], ds, {"auc": roc_auc_score(y_test, s),
                                       "average_precision": average_precision_score(y_test, s)}, seed)


if __name__ == "__main__":
    cfg = load_config()
    rec = Recorder(cfg.get("metrics"))
    for ds in cfg["datasets"]:
        arrays, doc = load_dataset(ds, cfg)
        if doc["card"]["task"] == "link_prediction":
            run_links(cfg, ds, arrays, doc, rec)
        else:
            run_nodes(cfg, ds, arrays, rec)
    finish(rec, cfg)
