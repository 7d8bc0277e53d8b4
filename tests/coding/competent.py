"""A competent stand-in for a strong coding model: complete multi-file codebases written
by hand for three domains (a PyTorch CNN on digits, an autoregressive forecaster on co2,
a link predictor on les_miserables), each following the harness contract, plus planted
bugs and the patches a capable model sends for them."""
from __future__ import annotations

import json

# ---------------------------------------------------------------------- shared harness
HARNESS = '''"""Contract plumbing shared by the experiment: config, data, splits, metrics.json."""
import json
import resource
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def config():
    return json.loads((HERE / "config.json").read_text())


def load(name):
    with np.load(HERE / "data" / f"{name}.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads((HERE / "data" / f"{name}.json").read_text())


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Recorder:
    def __init__(self):
        self.metrics, self.runs = [], []

    def add(self, method, dataset, seed, split, values, started):
        for k, v in values.items():
            self.metrics.append({"method": method, "dataset": dataset, "metric": k,
                                 "value": float(v), "seed": int(seed), "split": split})
        self.runs.append({"dataset": dataset, "method": method, "seed": int(seed), "split": split,
                          "metrics": {k: float(v) for k, v in values.items()},
                          "runtime_s": round(time.time() - started, 4), "peak_memory_mb": peak_mb()})

    def save(self):
        (HERE / "metrics.json").write_text(json.dumps({"metrics": self.metrics, "runs": self.runs}))
'''

# ---------------------------------------------------------------------- digits: PyTorch CNN
DIGITS_MODEL = '''"""A small CNN for 8x8 digit images (two conv blocks, one hidden layer)."""
import numpy as np
import torch
from torch import nn

HIDDEN = 64
EPOCHS = 8
LR = 3e-3


class SmallCNN(nn.Module):
    def __init__(self, n_classes=10, channels=16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * channels * 2 * 2, HIDDEN), nn.ReLU(),
                                  nn.Linear(HIDDEN, n_classes))

    def forward(self, x):
        return self.head(self.features(x))


def train_cnn(X, y, seed, epochs=EPOCHS, lr=LR):
    torch.manual_seed(seed)
    model = SmallCNN(int(y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt = torch.tensor(X[:, None], dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(yt), generator=gen).split(64):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return model


def predict(model, X):
    with torch.no_grad():
        return model(torch.tensor(X[:, None], dtype=torch.float32)).argmax(1).numpy()
'''

DIGITS_RUN = '''"""Digits: a small CNN against logistic regression and the majority class."""
import time
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from harness import Recorder, config, load
from model import predict, train_cnn

torch.set_num_threads(1)
cfg = config()
rec = Recorder()
names = [b["name"] for b in cfg["baselines"]]


def scores(y, p):
    return {"accuracy": accuracy_score(y, p), "macro_f1": f1_score(y, p, average="macro")}


for ds in cfg["datasets"]:
    arrays, _ = load(ds)
    X, y = arrays["images"], arrays["y"]
    for seed in cfg["seeds"][:2]:
        rng = np.random.default_rng(seed)
        idx = rng.permutation(len(y))
        n_te, n_va = len(y) // 5, len(y) // 5
        te, va, tr = idx[:n_te], idx[n_te:n_te + n_va], idx[n_te + n_va:]
        t0 = time.time()
        model = train_cnn(X[tr], y[tr], seed)
        for split, part in (("validation", va), ("test", te)):
            rec.add(cfg["method"]["name"], ds, seed, split, scores(y[part], predict(model, X[part])), t0)
        t0 = time.time()
        lr = LogisticRegression(max_iter=300).fit(X[tr].reshape(len(tr), -1), y[tr])
        rec.add(names[0], ds, seed, "test", scores(y[te], lr.predict(X[te].reshape(len(te), -1))), t0)
        t0 = time.time()
        maj = np.bincount(y[tr]).argmax()
        rec.add(names[1], ds, seed, "test", scores(y[te], np.full(len(te), maj)), t0)
rec.save()
Path("figures").mkdir(exist_ok=True)
acc = {}
for m in rec.metrics:
    if m["metric"] == "accuracy" and m["split"] == "test":
        acc.setdefault(m["method"], []).append(m["value"])
plt.bar(range(len(acc)), [np.mean(v) for v in acc.values()])
plt.xticks(range(len(acc)), list(acc), fontsize=6)
plt.ylabel("test accuracy")
plt.savefig("figures/accuracy.png", dpi=100)
'''

# a weaker but valid draft: an MLP on flattened pixels, few epochs
DIGITS_MLP_MODEL = DIGITS_MODEL.replace('''        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * channels * 2 * 2, HIDDEN), nn.ReLU(),
                                  nn.Linear(HIDDEN, n_classes))''', '''        self.features = nn.Flatten()
        self.head = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, n_classes))''').replace(
    "EPOCHS = 8", "EPOCHS = 1").replace("LR = 3e-3", "LR = 1e-3")


def digits_files(model: str = DIGITS_MODEL, run: str = DIGITS_RUN) -> dict[str, str]:
    return {"run.py": run, "model.py": model, "harness.py": HARNESS}


# ---------------------------------------------------------------------- co2: forecaster
CO2_RUN = '''"""co2: an autoregressive ridge forecaster on differenced lags vs naive baselines."""
import time
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from forecast import ar_forecast, naive, seasonal_naive
from harness import Recorder, config, load

cfg = config()
rec = Recorder()
names = [b["name"] for b in cfg["baselines"]]


def errors(truth, pred, train, period):
    scale = np.mean(np.abs(train[period:] - train[:-period]))
    every = {"mae": np.mean(np.abs(truth - pred)), "rmse": np.sqrt(np.mean((truth - pred) ** 2)),
             "mase": np.mean(np.abs(truth - pred)) / scale,
             "smape": 100 * np.mean(2 * np.abs(truth - pred) / (np.abs(truth) + np.abs(pred)))}
    return {k: float(every[k]) for k in cfg["metrics"] if k in every}


for ds in cfg["datasets"]:
    arrays, doc = load(ds)
    y = arrays["series"].astype(float)
    h, period = int(doc["meta"]["horizon"]), int(doc["meta"]["period"])
    for seed in cfg["seeds"][:2]:
        end = len(y) - h * (seed + 1)  # rolling origin: one origin per seed
        train, test = y[:end], y[end:end + h]
        fit, val = train[:-h], train[-h:]
        t0 = time.time()
        rec.add(cfg["method"]["name"], ds, seed, "validation",
                errors(val, ar_forecast(fit, h, period), fit, period), t0)
        rec.add(cfg["method"]["name"], ds, seed, "test", errors(test, ar_forecast(train, h, period), train, period), t0)
        for name, pred in zip(names, (naive(train, h), seasonal_naive(train, h, period))):
            rec.add(name, ds, seed, "test", errors(test, pred, train, period), time.time())
rec.save()
Path("figures").mkdir(exist_ok=True)
plt.plot(y[-120:])
plt.title("co2, last 120 months")
plt.savefig("figures/series.png", dpi=100)
'''

CO2_FORECAST = '''"""Forecasters: naive, seasonal naive and ridge autoregression on first differences."""
import numpy as np

N_LAGS = 24
ALPHA = 1.0


def naive(train, h):
    return np.full(h, train[-1])


def seasonal_naive(train, h, period):
    return np.array([train[-period + (i % period)] for i in range(h)])


def ar_forecast(train, h, period, n_lags=N_LAGS, alpha=ALPHA):
    d = np.diff(train)
    X = np.stack([d[i:i + n_lags] for i in range(len(d) - n_lags)])
    t = d[n_lags:]
    mu, sd = X.mean(0), X.std(0) + 1e-8
    Z = (X - mu) / sd
    w = np.linalg.solve(Z.T @ Z + alpha * np.eye(n_lags), Z.T @ (t - t.mean()))
    hist, out = list(d[-n_lags:]), []
    for _ in range(h):
        step = ((np.array(hist[-n_lags:]) - mu) / sd) @ w + t.mean()
        hist.append(step)
        out.append(step)
    return train[-1] + np.cumsum(out)
'''


def co2_files(forecast: str = CO2_FORECAST, run: str = CO2_RUN) -> dict[str, str]:
    return {"run.py": run, "forecast.py": forecast, "harness.py": HARNESS}


# ---------------------------------------------------------------------- graph: link predictor
GRAPH_RUN = '''"""Link prediction: logistic regression over neighbourhood heuristics vs the heuristics."""
import time
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score

from harness import Recorder, config, load
from links import features, sample_negatives, split_edges

cfg = config()
rec = Recorder()
names = [b["name"] for b in cfg["baselines"]]


def scores(y, s):
    return {"auc": roc_auc_score(y, s), "average_precision": average_precision_score(y, s)}


for ds in cfg["datasets"]:
    arrays, doc = load(ds)
    n = int(doc["meta"]["n_nodes"])
    for seed in cfg["seeds"][:2]:
        rng = np.random.default_rng(seed)
        tr, va, te = split_edges(arrays["edges"], rng)
        g = nx.Graph()
        g.add_nodes_from(range(n))
        g.add_edges_from(map(tuple, tr))
        neg = sample_negatives(n, arrays["edges"], len(tr) + len(va) + len(te), rng)
        ntr, nva, nte = neg[:len(tr)], neg[len(tr):len(tr) + len(va)], neg[len(tr) + len(va):]
        t0 = time.time()
        clf = LogisticRegression(max_iter=500).fit(
            features(g, np.vstack([tr, ntr])), np.r_[np.ones(len(tr)), np.zeros(len(ntr))])
        for split, pos, negs in (("validation", va, nva), ("test", te, nte)):
            pairs = np.vstack([pos, negs])
            y = np.r_[np.ones(len(pos)), np.zeros(len(negs))]
            rec.add(cfg["method"]["name"], ds, seed, split, scores(y, clf.predict_proba(features(g, pairs))[:, 1]), t0)
        pairs, y = np.vstack([te, nte]), np.r_[np.ones(len(te)), np.zeros(len(nte))]
        f = features(g, pairs)
        rec.add(names[0], ds, seed, "test", scores(y, f[:, 0]), time.time())
        rec.add(names[1], ds, seed, "test", scores(y, f[:, 2]), time.time())
rec.save()
Path("figures").mkdir(exist_ok=True)
plt.hist([d for _, d in g.degree()], bins=20)
plt.xlabel("degree")
plt.savefig("figures/degrees.png", dpi=100)
'''

GRAPH_LINKS = '''"""Edge splits, negative sampling and pair features (CN, Jaccard, Adamic-Adar, PA)."""
import math

import numpy as np


def split_edges(edges, rng, val=0.1, test=0.2):
    perm = rng.permutation(len(edges))
    n_te, n_va = max(2, int(test * len(edges))), max(2, int(val * len(edges)))
    e = edges[perm]
    return e[n_te + n_va:], e[n_te:n_te + n_va], e[:n_te]


def sample_negatives(n, edges, k, rng):
    present = {(int(a), int(b)) for a, b in edges} | {(int(b), int(a)) for a, b in edges}
    out = set()
    while len(out) < k:
        a, b = (int(x) for x in rng.integers(0, n, 2))
        if a != b and (a, b) not in present and (b, a) not in out:
            out.add((a, b))
    return np.array(sorted(out))


def features(g, pairs):
    rows = []
    for a, b in pairs:
        na, nb = set(g[int(a)]), set(g[int(b)])
        common = na & nb
        union = na | nb
        aa = sum(1.0 / math.log(g.degree(w)) for w in common if g.degree(w) > 1)
        rows.append([len(common), len(common) / len(union) if union else 0.0, aa,
                     math.log1p(len(na) * len(nb))])
    return np.array(rows, dtype=float)
'''


def graph_files(links: str = GRAPH_LINKS, run: str = GRAPH_RUN) -> dict[str, str]:
    return {"run.py": run, "links.py": links, "harness.py": HARNESS}


def answer(files: dict[str, str], summary: str) -> str:
    """The model's reply to a freeform draft request."""
    return json.dumps({"files": files, "summary": summary})
