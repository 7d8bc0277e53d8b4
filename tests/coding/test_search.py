"""The best-first code search as pure logic: drafts first, a debug child per broken leaf
within the debug budget, improvements of the best node; selection by the validation
score of the proposed method (never test), lower-is-better metrics handled."""
from nanoresearch.coding.search import Proposal, SearchPolicy, TreeSearch
from nanoresearch.coding.tree_figure import draw_tree
from nanoresearch.types import FailureInfo, MetricRecord, RunResult, RunStatus


def result(val=None, test=None, metric="accuracy", fail=None):
    if fail:
        return RunResult(status=RunStatus.FAILED, failure=FailureInfo(category="exception", message=fail))
    recs = [MetricRecord(method="M", dataset="d", metric=metric, value=val, split="validation"),
            MetricRecord(method="M", dataset="d", metric=metric, value=test, split="test")]
    return RunResult(status=RunStatus.SUCCEEDED, metrics=recs)


class Ops:
    """Files carry the outcome they will have: {"run.py": "<tag>"}; the runner maps tags."""

    def __init__(self, drafts, fixes=None, improvements=None):
        self.drafts, self.fixes, self.improvements = drafts, fixes or {}, list(improvements or [])
        self.calls = []

    def draft(self, i):
        self.calls.append(("draft", i))
        return Proposal({"run.py": self.drafts[i]}, f"draft {i}") if self.drafts[i] else None

    def debug(self, node, res):
        self.calls.append(("debug", node.node_id))
        tag = self.fixes.get(node.files["run.py"])
        return Proposal({"run.py": tag}, "fix") if tag else None

    def improve(self, node, i):
        self.calls.append(("improve", node.node_id))
        return Proposal({"run.py": self.improvements.pop(0)}, "better") if self.improvements else None


def runner(outcomes, seen):
    def run(nodes):
        seen.append([n.node_id for n in nodes])
        return [outcomes[n.files["run.py"]] for n in nodes]
    return run


OUT = {"a": result(0.80, 0.99), "b": result(0.90, 0.70), "bug": result(fail="ValueError: shape"),
       "bug2": result(fail="NameError: x"), "fixed": result(0.85, 0.85), "b+": result(0.93, 0.80)}


def test_drafts_debug_improve_and_select_on_validation(tmp_path):
    ops, batches = Ops(["a", "b", "bug"], fixes={"bug": "fixed"}, improvements=["b+"]), []
    ts = TreeSearch(ops, runner(OUT, batches), SearchPolicy(drafts=3, depth=1, parallel=2), "accuracy", "M")
    tree = ts.run()
    assert [n.operator for n in tree.nodes] == ["draft", "draft", "draft", "improve", "debug"]
    assert batches == [[0, 1], [2, 3], [4]]  # a free slot improves the best so far; debug waits for its parent
    by = {n.node_id: n for n in tree.nodes}
    assert by[2].status == "buggy" and by[2].failure_class == "traceback" and by[4].parent == 2
    assert by[4].status == "good" and by[4].val_score == 0.85
    assert by[3].parent == 1  # improvement of the best node on validation (b), not of a (best on test)
    assert tree.best == 3 and by[3].val_score == 0.93 and "+b+" in by[3].diff
    assert [n.node_id for n in ts.path_to(3)] == [1, 3]
    assert draw_tree(tree, tmp_path / "tree.png").stat().st_size > 1000


def test_debug_chain_stops_at_the_budget():
    ops = Ops(["bug"], fixes={"bug": "bug2", "bug2": "bug"})
    tree = TreeSearch(ops, runner(OUT, []), SearchPolicy(drafts=1, debug_attempts=2), "accuracy", "M").run()
    assert [n.operator for n in tree.nodes] == ["draft", "debug", "debug"] and tree.best is None


def test_lower_is_better_metric_and_unusable_proposals():
    out = {"x": result(3.0, 1.0, "mae"), "y": result(2.0, 9.0, "mae")}
    ops = Ops(["x", None, "y"])
    tree = TreeSearch(ops, runner(out, []), SearchPolicy(drafts=3, depth=2), "mae", "M").run()
    assert len(tree.nodes) == 2 and not tree.higher_is_better
    assert tree.nodes[tree.best].files["run.py"] == "y"
    assert ops.calls.count(("improve", 1)) == 2  # two improvement tries, both unusable


def test_success_without_validation_record_is_buggy():
    out = {"t": RunResult(status=RunStatus.SUCCEEDED,
                          metrics=[MetricRecord(method="M", dataset="d", metric="accuracy", value=0.9)])}
    tree = TreeSearch(Ops(["t"]), runner(out, []), SearchPolicy(debug_attempts=0), "accuracy", "M").run()
    assert tree.nodes[0].status == "buggy" and "validation" in tree.nodes[0].message


def test_time_budget_stops_new_batches_and_says_so():
    ops = Ops(["a", "b", "bug"], fixes={"bug": "fixed"})
    ts = TreeSearch(ops, runner(OUT, []), SearchPolicy(drafts=3, parallel=1, max_wall_s=0.0), "accuracy", "M")
    tree = ts.run()
    assert len(tree.nodes) == 1 and "time budget" in tree.stopped  # the first batch always runs
