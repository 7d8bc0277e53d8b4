"""Stage II in freeform mode: the code tree search over the coding and debugging agents.

    code, runs = run_code_search(code, code_dir, coding, debugging, executor, budgets,
                                 search, plan_steps, skills, on_event)
Layout on disk (experiment/ of the project workspace):
    code/            the selected node's codebase, its metrics.json and figures/
    code/nodes/007/  every node's own work dir (data copied in), kept for inspection
    tree.json        `SearchTree`: nodes, parents, operators, diffs, status, validation score
    figures/code_search_tree.png   the tree drawn for the report
Every node runs behind `ContractExecutor`, so a contract violation is a failed node that
the debugging agent patches (a debug child); with `search.parallel > 1` a batch of nodes
runs as Ray tasks (actors/ray_code_search.py), else in this process.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any, Callable

from actors.debugging import _brief, parse_failure, write_code
from nanoresearch import artifacts as A
from nanoresearch.coding.contract import ContractExecutor, failure_class
from nanoresearch.coding.search import Proposal, SearchPolicy, TreeSearch
from nanoresearch.coding.tree_figure import draw_tree
from nanoresearch.types import CodeArtifact, RunResult, SearchNode, SkillEntry

log = logging.getLogger(__name__)
EventFn = Callable[[str, dict], None]


class AgentOperators:
    """The search's draft / debug / improve actions, answered by the agents (plain objects
    or Ray proxies)."""

    def __init__(self, first: CodeArtifact, code_dir: Path, coding: Any, debugging: Any,
                 plan_steps: list[str], skills: list[SkillEntry], emit: EventFn):
        self.first, self.code_dir, self.coding, self.debugging = first, code_dir, coding, debugging
        self.plan_steps, self.skills, self.emit = plan_steps, skills, emit

    def draft(self, index: int) -> Proposal | None:
        if index == 0:  # the coding step's own draft
            return Proposal(dict(self.first.files), "first draft of the coding step")
        out = self.coding.draft(self.code_dir, self.plan_steps, self.skills, index)
        return Proposal(out["files"], out.get("summary", "")) if out else None

    def debug(self, node: SearchNode, result: RunResult) -> Proposal | None:
        art = CodeArtifact(files=node.files, mode="free")
        new = self.debugging.fix(art, result, self.skills)
        rec = list(self.debugging.history)[-1] if list(self.debugging.history) else None
        data = rec.model_dump(exclude={"failure"}) if rec is not None else {}
        if new.files == node.files:
            self.emit("gave_up", {"node": node.node_id, **data})
            return None
        self.emit("fix", {"node": node.node_id, "failure_class": node.failure_class, **data})
        return Proposal(new.files, rec.summary if rec else "patch", rec.source if rec else "llm")

    def improve(self, node: SearchNode, index: int) -> Proposal | None:
        out = self.coding.improve(self.code_dir, node.files, node.val_score, index)
        return Proposal(out["files"], out.get("summary", "")) if out else None


def node_runner(code_dir: Path, executor: Any, parallel: int, ray_address: str | None = None
                ) -> Callable[[list[SearchNode]], list[RunResult]]:
    """A batch runner: writes each node into its own work dir, then runs the batch."""
    ray_runner = None
    if parallel > 1:
        from actors.ray_code_search import RayBatchRunner
        ray_runner = RayBatchRunner(ray_address)

    def run_batch(nodes: list[SearchNode]) -> list[RunResult]:
        jobs = []
        for node in nodes:
            wd = Path(code_dir) / "nodes" / f"{node.node_id:03d}"
            if not (wd / "data").exists() and (Path(code_dir) / "data").is_dir():
                shutil.copytree(Path(code_dir) / "data", wd / "data")
            write_code(wd, CodeArtifact(files=node.files, mode="free"))
            jobs.append((wd, "run.py"))
        if ray_runner is not None:
            return ray_runner.run(executor, jobs)
        return [executor.run(wd, ep) for wd, ep in jobs]

    return run_batch


def run_code_search(code: CodeArtifact, code_dir: Path, coding: Any, debugging: Any, executor: Any,
                    debug_attempts: int, search: Any, plan_steps: list[str] | None = None,
                    skills: list[SkillEntry] | None = None, on_event: EventFn | None = None,
                    ray_address: str | None = None) -> tuple[CodeArtifact, list[RunResult]]:
    """Search, save tree.json + its figure, copy the selected node into `code_dir`; returns
    the selected code and the runs on its path (only the selected node's run succeeded)."""
    emit = on_event or (lambda kind, data: None)
    code_dir = Path(code_dir)
    cfg = json.loads(code.files["config.json"])
    contract = ContractExecutor(executor, cfg["primary_metric"], cfg["method"]["name"])
    policy = SearchPolicy(drafts=search.drafts, depth=search.depth, parallel=search.parallel,
                          debug_attempts=debug_attempts,
                          max_wall_s=60 * m if (m := getattr(search, "max_minutes", None)) else None)

    classes: dict[int, str] = {}

    def on_node(node: SearchNode, result: RunResult) -> None:
        emit("run", {"node": node.node_id, "operator": node.operator, **_brief(result),
                     "val_score": node.val_score})
        classes[node.node_id] = node.failure_class
        if node.operator == "debug":  # what the failure was, what was tried, whether it worked
            emit("outcome", {"node": node.node_id, "parent": node.parent, "summary": node.summary,
                             "failure_class": classes.get(node.parent, ""), "diff": node.diff[:1200],
                             "resolved": node.status == "good", "status_after": result.status.value,
                             "duration_s": node.duration_s})
        if node.status == "buggy":
            emit("failure", {"node": node.node_id, "class": failure_class(result),
                             **parse_failure(result, code_dir / "nodes" / f"{node.node_id:03d}").model_dump()})

    ops = AgentOperators(code, code_dir, coding, debugging, plan_steps or [], list(skills or []), emit)
    ts = TreeSearch(ops, node_runner(code_dir, contract, search.parallel, ray_address), policy,
                    cfg["primary_metric"], cfg["method"]["name"], on_node)
    tree = ts.run()
    tree.executor = "ray" if search.parallel > 1 else "in-process"
    exp_dir = code_dir.parent
    A.TREE.at(exp_dir).write_text(tree.model_dump_json(indent=1))
    draw_tree(tree, exp_dir / "figures" / "code_search_tree.png")
    last = tree.best if tree.best is not None else (tree.nodes[-1].node_id if tree.nodes else None)
    if last is None:
        return code, []
    path = ts.path_to(last)
    _install(code_dir, path[-1])
    runs = [ts.results[n.node_id] for n in path if n.status == "buggy" or n.node_id == last]
    runs = [r.model_copy(update={"attempt": i + 1}) for i, r in enumerate(runs)]
    final = CodeArtifact(files=path[-1].files, mode="free", version=len(path))
    return final, runs


def _install(code_dir: Path, node: SearchNode) -> None:
    """The selected node's code and outputs become experiment/code (what the paper cites)."""
    src = code_dir / "nodes" / f"{node.node_id:03d}"
    write_code(code_dir, CodeArtifact(files=node.files, mode="free"))
    for name in ("metrics.json", "figures", "logs"):
        s, d = src / name, code_dir / name
        if s.is_dir() and not s.is_symlink():
            shutil.copytree(s, d, dirs_exist_ok=True)
        elif s.is_file() and not s.is_symlink():
            shutil.copy2(s, d)
