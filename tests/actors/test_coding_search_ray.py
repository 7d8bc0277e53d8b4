"""The code tree search on a local Ray: three co2 drafts from the competent stand-in (a
24-lag AR, a weak 2-lag AR, one with an ImportError) run two at a time as Ray tasks, each
in its own sandbox; the broken draft is debugged, the best one improved, and the node
with the best *validation* MAE (read back from each node's own metrics.json) is selected
and installed as experiment/code."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

ray = pytest.importorskip("ray")

from actors.code_search import run_code_search  # noqa: E402
from actors.debugging import DebuggingAgent  # noqa: E402
from actors.ray_app import init_ray  # noqa: E402
from nanoresearch.execution.base import Limits  # noqa: E402
from nanoresearch.execution.sandbox import SandboxExecutor, sandbox_problem  # noqa: E402
from nanoresearch.llm.scripted import FunctionModel  # noqa: E402
from nanoresearch.types import RunStatus, SearchTree  # noqa: E402
from tests.coding import competent as C  # noqa: E402
from tests.coding.scenarios import write_free  # noqa: E402

WEAK = C.CO2_FORECAST.replace("N_LAGS = 24", "N_LAGS = 2").replace("ALPHA = 1.0", "ALPHA = 50.0")
BROKEN = C.CO2_FORECAST.replace("import numpy as np", "import numpy as np\nfrom numpy import moving_average")
TUNED = C.CO2_FORECAST.replace("N_LAGS = 24", "N_LAGS = 36").replace("ALPHA = 1.0", "ALPHA = 3.0")


def coder(msgs):
    prompt = msgs[-1].content
    if "This is draft 2" in prompt:
        return C.answer(C.co2_files(forecast=WEAK), "2-lag AR, heavily regularised")
    if "This is draft 3" in prompt:
        return C.answer(C.co2_files(forecast=BROKEN), "AR with a moving-average pre-filter")
    assert prompt.startswith("Improve this experiment codebase") and "N_LAGS = 24" in prompt
    return json.dumps({"files": {"forecast.py": TUNED}, "summary": "36 lags, alpha 3"})


def debugger(msgs):
    assert "moving_average" in msgs[-1].content
    return json.dumps({"file": "forecast.py", "search": "from numpy import moving_average\n", "replace": "",
                       "reason": "numpy has no moving_average and it is unused"})


@pytest.fixture()
def local_ray():
    started = not ray.is_initialized()
    init_ray(num_cpus=2)
    yield
    if started:
        ray.shutdown()


@pytest.mark.ray
@pytest.mark.skipif(sandbox_problem() is not None, reason=str(sandbox_problem()))
def test_tree_search_on_ray_selects_the_best_validation_node(tmp_path, local_ray):
    code_dir = tmp_path / "experiment" / "code"
    coding, art = write_free("co2", code_dir, llm=FunctionModel(
        lambda m: C.answer(C.co2_files(), "24-lag AR") if "Write a self-contained" in m[-1].content
        and "This is draft" not in m[-1].content else coder(m)))
    search = SimpleNamespace(drafts=3, depth=1, parallel=2)
    final, runs = run_code_search(art, code_dir, coding, DebuggingAgent(FunctionModel(debugger)),
                                  SandboxExecutor(Limits(timeout_s=120)), 2, search)
    tree = SearchTree.model_validate_json((tmp_path / "experiment" / "tree.json").read_text())
    assert len(tree.nodes) >= 4 and tree.executor == "ray" and tree.parallel == 2
    assert sorted(n.operator for n in tree.nodes) == ["debug", "draft", "draft", "draft", "improve"]
    assert tree.nodes[2].status == "buggy" and tree.nodes[2].failure_class == "traceback"
    val = {}  # the selection recomputed from each node's own output: validation MAE of the method
    for n in tree.nodes:
        if n.status == "good":
            m = json.loads((code_dir / "nodes" / f"{n.node_id:03d}" / "metrics.json").read_text())["metrics"]
            v = [r["value"] for r in m if r["split"] == "validation" and r["metric"] == "mae"
                 and r["method"] == "Differenced ridge AR"]
            val[n.node_id] = sum(v) / len(v)
    assert len(val) == 4 and tree.best == min(val, key=val.get)
    assert final.files == tree.nodes[tree.best].files and runs[-1].status == RunStatus.SUCCEEDED
    assert json.loads((code_dir / "metrics.json").read_text()) == json.loads(
        (code_dir / "nodes" / f"{tree.best:03d}" / "metrics.json").read_text())
    assert (tmp_path / "experiment" / "figures" / "code_search_tree.png").stat().st_size > 1000
