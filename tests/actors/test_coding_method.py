"""Method mode: the scaffold keeps data, splits, seeds and evaluation; a capable model
writes method.py (a torch MLP behind fit/predict) and the scaffold runs it in the real
sandbox. Rejected method code falls back to the family slot, and the fallback is shown."""
from __future__ import annotations

import json

import pytest

from actors.coding import CodingAgent
from nanoresearch.execution.base import Limits
from nanoresearch.execution.sandbox import SandboxExecutor, sandbox_problem
from nanoresearch.llm.scripted import ScriptedModel
from nanoresearch.types import Blueprint, DatasetSpec, MethodSpec, RunStatus

TORCH_MLP = '''"""A two-layer MLP trained with Adam and early stopping on a held-out tenth."""
import numpy as np
import torch
from torch import nn


class TorchMLP:
    def __init__(self, seed, hidden=32, epochs=150, lr=1e-2, weight_decay=1e-4):
        self.seed, self.hidden, self.epochs, self.lr, self.wd = seed, int(hidden), int(epochs), lr, weight_decay

    def fit(self, X, y):
        torch.manual_seed(self.seed)
        torch.set_num_threads(1)
        self.mu, self.sd = X.mean(0), X.std(0) + 1e-8
        self.classes_ = np.unique(y)
        xt = torch.tensor((X - self.mu) / self.sd, dtype=torch.float32)
        yt = torch.tensor(np.searchsorted(self.classes_, y), dtype=torch.long)
        self.net = nn.Sequential(nn.Linear(X.shape[1], self.hidden), nn.ReLU(),
                                 nn.Linear(self.hidden, len(self.classes_)))
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.wd)
        for _ in range(self.epochs):
            opt.zero_grad()
            nn.functional.cross_entropy(self.net(xt), yt).backward()
            opt.step()
        return self

    def predict_proba(self, X):
        with torch.no_grad():
            xt = torch.tensor((X - self.mu) / self.sd, dtype=torch.float32)
            return torch.softmax(self.net(xt), 1).numpy()

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


def build_model(seed, params):
    return TorchMLP(seed, **params)
'''


def blueprint():
    return Blueprint(title="A torch MLP on wine", domain="tabular", datasets=[DatasetSpec(name="wine")],
                     proposed_method=MethodSpec(name="Torch MLP", description="two-layer MLP, Adam"),
                     baselines=[MethodSpec(name="Logistic regression")], metrics=["accuracy"],
                     primary_metric="accuracy", seeds=[0, 1, 2])


@pytest.mark.skipif(sandbox_problem() is not None, reason=str(sandbox_problem()))
def test_model_written_torch_method_runs_in_the_scaffold(tmp_path):
    answer = {"family": "mlp", "params": {"hidden": 32, "epochs": 150}, "code": TORCH_MLP}
    llm = ScriptedModel([json.dumps(answer)])
    art = CodingAgent(llm, mode="method", choice={"requested": "method", "why": "test"}).write(
        blueprint(), None, [], tmp_path)
    notes = json.loads(art.files["coding_notes.json"])
    assert art.mode == "method" and notes["method_source"] == "llm_code" and notes["fallback"] == ""
    assert art.files["method.py"] == TORCH_MLP and "build_model(seed, params)" in llm.calls[0][-1].content
    res = SandboxExecutor(Limits(timeout_s=300)).run(tmp_path)
    assert res.status == RunStatus.SUCCEEDED, res.stderr_tail[-2000:]
    acc = [m.value for m in res.metrics if m.method == "Torch MLP" and m.metric == "accuracy"]
    assert len(acc) == 3 and min(acc) > 0.8  # a working MLP on wine, not a constant


def test_rejected_method_code_falls_back_visibly(tmp_path):
    answer = {"family": "random_forest", "params": {}, "code": "import socket\ndef build_model(seed, params):\n    pass\n"}
    art = CodingAgent(ScriptedModel([json.dumps(answer)]), mode="method").write(blueprint(), None, [], tmp_path)
    notes = json.loads(art.files["coding_notes.json"])
    assert art.mode == "seeded" and "method.py" not in art.files
    assert notes["fallback"].startswith("method mode was chosen but seeded ran")
    assert any("method code rejected" in n and "socket" in n for n in notes["notes"])
