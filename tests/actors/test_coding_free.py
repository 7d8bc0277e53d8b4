"""Freeform code in the real bwrap sandbox: the competent stand-in's codebases for three
domains run under the harness contract, and planted failures (ImportError, a shape
mismatch, a contract violation, a timeout, NaN metrics) are fixed by the debugging
agent's model patches through the real search/debug loop. The debugging model reads the
failure in its prompt and answers as a capable model would (search/replace, a unified
diff, multi-file edits)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from actors.code_search import run_code_search
from actors.debugging import DebuggingAgent
from nanoresearch.execution.base import Limits
from nanoresearch.execution.patching import unified_diff
from nanoresearch.execution.sandbox import SandboxExecutor, sandbox_problem
from nanoresearch.llm.scripted import FunctionModel
from nanoresearch.types import RunStatus, SearchTree
from tests.coding import competent as C
from tests.coding.scenarios import write_free

pytestmark = pytest.mark.skipif(sandbox_problem() is not None, reason=str(sandbox_problem()))
ONE = SimpleNamespace(drafts=1, depth=0, parallel=1)

# planted bug -> (scenario, broken files, marker the model recognises in its prompt, reply)
GRAPH_IMPORT = C.GRAPH_RUN.replace("average_precision_score, roc_auc_score", "average_precision_score, roc_auc")
DIGITS_SHAPE = C.DIGITS_MODEL.replace("2 * channels * 2 * 2", "2 * channels * 3 * 3")
CO2_NO_RUNS = C.HARNESS.replace('json.dumps({"metrics": self.metrics, "runs": self.runs})',
                                "json.dumps(self.metrics)")
GRAPH_SLOW = C.GRAPH_RUN.replace("len(tr) + len(va) + len(te), rng)", "20 * (len(tr) + len(va) + len(te)), rng)")
CO2_NAN = C.CO2_FORECAST.replace("d = np.diff(train)", "d = np.diff(np.log(train - train.mean()))")

PLANTED = {
    "import_error": ("graph", C.graph_files(run=GRAPH_IMPORT), "cannot import name 'roc_auc'",
                     {"file": "run.py", "search": "average_precision_score, roc_auc\n",
                      "replace": "average_precision_score, roc_auc_score\n",
                      "reason": "sklearn.metrics has roc_auc_score, not roc_auc"}, "traceback"),
    "shape_mismatch": ("digits", C.digits_files(model=DIGITS_SHAPE), "mat1 and mat2",
                       {"diff": unified_diff(C.digits_files(model=DIGITS_SHAPE), C.digits_files()),
                        "reason": "two 2x2 poolings leave 8x8 images at 2x2, not 3x3"}, "traceback"),
    "missing_runs": ("co2", {**C.co2_files(), "harness.py": CO2_NO_RUNS}, "contract violation",
                     {"edits": [{"file": "harness.py", "search": "json.dumps(self.metrics)",
                                 "replace": 'json.dumps({"metrics": self.metrics, "runs": self.runs})'}],
                      "reason": "the contract wants metrics and runs"}, "contract"),
    "timeout": ("graph", C.graph_files(run=GRAPH_SLOW), "Failure: timeout",
                {"file": "run.py", "search": "20 * (len(tr) + len(va) + len(te)), rng)",
                 "replace": "len(tr) + len(va) + len(te), rng)",
                 "reason": "asked for more non-edges than the graph has: the sampler never ends"}, "timeout"),
    "nan_metrics": ("co2", C.co2_files(forecast=CO2_NAN), "finite",
                    {"file": "forecast.py", "search": "d = np.diff(np.log(train - train.mean()))",
                     "replace": "d = np.diff(train)", "reason": "log of a centred series is NaN"},
                    "nan_metrics"),
}


def capable_debugger(marker: str, reply: dict) -> FunctionModel:
    def answer(msgs):
        prompt = msgs[-1].content
        assert marker in prompt, prompt[:1500]  # it answers the failure it was shown
        return json.dumps(reply)
    return FunctionModel(answer, model="competent-debugger")


@pytest.mark.parametrize("name", list(PLANTED))
def test_planted_failure_is_fixed_through_the_debug_loop(tmp_path, name):
    scenario, files, marker, reply, cls = PLANTED[name]
    code_dir = tmp_path / "experiment" / "code"
    coding, art = write_free(scenario, code_dir, files)
    debugger = DebuggingAgent(capable_debugger(marker, reply))
    timeout = 15 if name == "timeout" else 180
    executor = SandboxExecutor(Limits(timeout_s=timeout, memory_mb=2048))
    events = []
    final, runs = run_code_search(art, code_dir, coding, debugger, executor, 2, ONE,
                                  on_event=lambda k, d: events.append((k, d)))
    tree = SearchTree.model_validate_json((tmp_path / "experiment" / "tree.json").read_text())
    assert [n.operator for n in tree.nodes] == ["draft", "debug"], [n.message for n in tree.nodes]
    draft, fix = tree.nodes
    assert draft.status == "buggy" and draft.failure_class == cls, draft.message
    assert fix.status == "good" and fix.parent == 0 and tree.best == 1 and fix.diff
    assert [r.status for r in runs] == [runs[0].status, RunStatus.SUCCEEDED] and len(runs) == 2
    assert debugger.history[0].source == "llm" and debugger.history[0].llm_valid
    assert any(k == "fix" and d["failure_class"] == cls for k, d in events)
    outcome = next(d for k, d in events if k == "outcome")  # every attempt: diff, outcome, duration
    assert outcome["resolved"] and outcome["failure_class"] == cls and outcome["diff"] and outcome["duration_s"] > 0
    metrics = json.loads((code_dir / "metrics.json").read_text())  # the selected node's own output
    assert metrics["runs"] and {m["split"] for m in metrics["metrics"]} == {"validation", "test"}
    assert final.files == fix.files and (tmp_path / "experiment" / "figures" / "code_search_tree.png").exists()


def test_unapplicable_patch_is_reported_back_and_the_retry_applies(tmp_path):
    """A first reply whose search text is not in the file gets the precise error back."""
    code_dir = tmp_path / "experiment" / "code"
    coding, art = write_free("graph", code_dir, C.graph_files(run=GRAPH_IMPORT))
    good = PLANTED["import_error"][3]
    replies = iter([{"file": "run.py", "search": "from sklearn.metrics import roc_auc_curve",
                     "replace": "x", "reason": "guess"}, good])
    seen = []

    def answer(msgs):
        seen.append(msgs[-1].content)
        return json.dumps(next(replies))
    debugger = DebuggingAgent(FunctionModel(answer))
    _, runs = run_code_search(art, code_dir, coding, debugger, SandboxExecutor(Limits(timeout_s=120)), 1, ONE)
    assert runs[-1].status == RunStatus.SUCCEEDED
    assert "search text not found in the file" in seen[1] and "roc_auc_curve" in seen[1]
