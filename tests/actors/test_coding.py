"""Coding agent with scripted models: a valid method fill runs; an invalid fill falls
back to the scaffold default with the reason recorded; free-form files are checked."""
import json
import os
import subprocess
import sys

import pytest

from actors.coding import CodingAgent, check_free_files
from nanoresearch.llm.scripted import ScriptedModel
from nanoresearch.types import Blueprint, DatasetSpec, MethodSpec, MetricRecord, Plan


def blueprint(**kw):
    base = dict(title="Boosting vs linear models on wine", domain="tabular",
                datasets=[DatasetSpec(name="Wine")],
                baselines=[MethodSpec(name="Logistic Regression"), MethodSpec(name="BERT-large")],
                proposed_method=MethodSpec(name="Shallow forest", description="a small random forest"),
                metrics=["Accuracy", "F1"], primary_metric="accuracy",
                ablations=[MethodSpec(name="no scaling")], seeds=[0, 1, 2])
    base.update(kw)
    return Blueprint(**base)


def run(work):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "run.py"], cwd=work, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [MetricRecord.model_validate(r) for r in json.loads((work / "metrics.json").read_text())]


def test_valid_fill_is_used_and_runs(tmp_path):
    fill = {"family": "random_forest", "params": {"n_estimators": 30, "max_depth": 4}, "steps": ["standardize"]}
    llm = ScriptedModel([json.dumps(fill)])
    art = CodingAgent(llm).write(blueprint(), Plan(steps=["use few trees"]), [], tmp_path)
    assert art.mode == "seeded" and art.entrypoint == "run.py"
    assert {"run.py", "nr_common.py", "config.json", "run.sh", "job.sbatch", "coding_notes.json"} <= set(art.files)
    cfg = json.loads(art.files["config.json"])
    assert cfg["method"]["family"] == "random_forest" and cfg["method"]["params"]["n_estimators"] == 30
    assert cfg["metrics"] == ["accuracy", "macro_f1"] and cfg["datasets"] == ["wine"]
    notes = json.loads(art.files["coding_notes.json"])
    assert notes["method_source"] == "llm" and any("BERT-large" in n for n in notes["notes"])
    # the blueprint's "no scaling" ablation, as the arm that really runs (the writer pairs it)
    assert notes["ablation_arms"] == {"Shallow forest w/o standardize": "w/o standardize"}
    assert "use few trees" in llm.calls[0][-1].content
    assert (tmp_path / "data" / "wine.npz").exists() and os.access(tmp_path / "run.sh", os.X_OK)
    assert "#SBATCH --cpus-per-task=1" in art.files["job.sbatch"]
    recs = run(tmp_path)
    methods = {r.method for r in recs}
    assert {"Shallow forest", "Logistic Regression", "Shallow forest w/o standardize"} <= methods
    assert (tmp_path / "figures" / "results.png").exists()


def test_invalid_fill_falls_back_with_reason(tmp_path):
    llm = ScriptedModel(["I would use a transformer", '{"family": "quantum_net"}', '{"famly": 3}'])
    art = CodingAgent(llm).write(blueprint(), None, [], tmp_path)
    notes = json.loads(art.files["coding_notes.json"])
    assert notes["method_source"] == "default"
    assert any("quantum_net" in n or "unusable" in n for n in notes["notes"])
    assert json.loads(art.files["config.json"])["method"]["family"] == "gbm"


def test_rejected_code_falls_back_to_family(tmp_path):
    code = "import subprocess\ndef build_model(seed, params):\n    return subprocess.run('ls')\n"
    llm = ScriptedModel([json.dumps({"family": "knn", "params": {"n_neighbors": 3}, "code": code})])
    art = CodingAgent(llm, method_code=True).write(blueprint(), None, [], tmp_path)
    notes = json.loads(art.files["coding_notes.json"])
    assert notes["method_source"] == "llm" and "method.py" not in art.files
    assert any("subprocess" in n for n in notes["notes"])


def test_valid_code_slot_runs(tmp_path):
    code = ("from sklearn.linear_model import LogisticRegression\n"
            "def build_model(seed, params):\n    return LogisticRegression(C=0.5, max_iter=500)\n")
    llm = ScriptedModel([json.dumps({"family": "logreg", "code": code})])
    art = CodingAgent(llm, method_code=True).write(blueprint(datasets=[DatasetSpec(name="iris")]), None, [], tmp_path)
    assert art.files["method.py"] == code
    assert json.loads(art.files["config.json"])["method"]["family"] == "custom"
    assert "Shallow forest" in {r.method for r in run(tmp_path)}


def test_near_miss_family_is_read_leniently(tmp_path):
    llm = ScriptedModel(['{"family": "Random Forest", "params": {"n_estimators": 20}}'], cycle_last=True)
    art = CodingAgent(llm).write(blueprint(), None, [], tmp_path)
    notes = json.loads(art.files["coding_notes.json"])
    assert json.loads(art.files["config.json"])["method"]["family"] == "random_forest"
    assert notes["method_source"] == "llm" and any("leniently" in n for n in notes["notes"])


def test_code_field_ignored_unless_enabled(tmp_path):
    code = "def build_model(seed, params):\n    return None\n"
    llm = ScriptedModel([json.dumps({"family": "knn", "code": code})], cycle_last=True)
    art = CodingAgent(llm).write(blueprint(), None, [], tmp_path)
    assert "method.py" not in art.files and json.loads(art.files["config.json"])["method"]["family"] == "knn"


def test_unknown_dataset_uses_domain_default(tmp_path):
    llm = ScriptedModel(['{"family": "logreg"}'])
    bp = blueprint(domain="graph", datasets=[DatasetSpec(name="ogbn-papers100M")], metrics=["accuracy"])
    art = CodingAgent(llm).write(bp, None, [], tmp_path)
    notes = json.loads(art.files["coding_notes.json"])
    assert notes["datasets"] == ["karate_club"] and notes["task"] == "node_classification"


FREE_RUN = '''import json, os
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
z = np.load("data/wine.npz", allow_pickle=False)
X, y = z["X"], z["y"]
rows = []
for seed in [0, 1, 2]:
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y)); te = idx[:50]
    maj = np.bincount(y[idx[50:]]).argmax()
    rows.append({"method": "Majority", "dataset": "wine", "metric": "accuracy", "value": float((y[te] == maj).mean()), "seed": seed, "split": "test"})
os.makedirs("figures", exist_ok=True)
plt.bar([0], [rows[0]["value"]]); plt.savefig("figures/f.png")
json.dump(rows, open("metrics.json", "w"))
'''


def test_free_form_mode_writes_model_files(tmp_path):
    llm = ScriptedModel([json.dumps({"files": {"run.py": FREE_RUN}})])
    art = CodingAgent(llm, mode="free").write(blueprint(), None, [], tmp_path)
    assert art.mode == "free" and art.files["run.py"] == FREE_RUN
    assert {"config.json", "run.sh", "job.sbatch"} <= set(art.files)
    assert "data/wine.npz" in llm.calls[0][-1].content
    assert {r.method for r in run(tmp_path)} == {"Majority"}


def test_free_form_bad_files_fall_back_to_seeded(tmp_path):
    bad = {"files": {"run.py": "import socket\nprint('hi')\n", "../evil.py": "x=1"}}
    llm = ScriptedModel([json.dumps(bad), '{"family": "gbm"}'])
    art = CodingAgent(llm, mode="free").write(blueprint(), None, [], tmp_path)
    assert art.mode == "seeded" and "nr_common.py" in art.files
    notes = " ".join(json.loads(art.files["coding_notes.json"])["notes"])
    assert "socket" in notes and "evil" in notes


@pytest.mark.parametrize("files,needle", [({"main.py": "x=1"}, "run.py"),
                                          ({"run.py": "print(1)"}, "metrics.json"),
                                          ({"run.py": "def f(:"}, "syntax")])
def test_check_free_files(files, needle):
    assert any(needle in p for p in check_free_files(files))


def test_a_robustness_requirement_adds_perturbed_test_sets_that_really_run(tmp_path):
    """The blueprint's stress tests (a standing robustness requirement) become perturbed
    test sets beside the design: scored on the perturbed test features, never trained on."""
    bp = blueprint(stress_tests=["gaussian noise (level 1)", "shift (level 1)"], ablations=[])
    art = CodingAgent(None).write(bp, None, [], tmp_path)
    cfg = json.loads(art.files["config.json"])
    assert [p["kind"] for p in cfg["test_perturbations"]] == ["gaussian_noise", "shift"]
    assert any("a standing requirement" in n for n in json.loads(art.files["coding_notes.json"])["notes"])
    recs = run(tmp_path)
    clean = {(r.method, r.seed): r.value for r in recs if r.split == "test" and r.metric == "accuracy"}
    noisy = {(r.method, r.seed): r.value for r in recs
             if r.split == "perturbed:gaussian noise (level 1)" and r.metric == "accuracy"}
    assert noisy.keys() == clean.keys() and noisy != clean  # every method and seed, really perturbed
