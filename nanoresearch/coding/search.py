"""Best-first tree search over code drafts (after AIDE / AI-Scientist-v2), pure Python.

    tree = TreeSearch(ops, run_batch, SearchPolicy(drafts=3, depth=2, parallel=2,
                      debug_attempts=3), primary_metric="accuracy", method="M").run()
Each node is one codebase and one run. A round picks up to `parallel` actions: first
the missing drafts, then a debug child for each broken leaf whose chain of debug nodes is
shorter than `debug_attempts`, then improve children of the best working node while the
`depth` improvement budget lasts. The batch runs at once (`run_batch`: in-process, or Ray
tasks in actors/ray_code_search.py). Nodes are scored by the proposed method's primary
metric on the validation split (contract.val_score), never on test; the best good node
is selected. What each action writes comes from `ops` (the coding/debugging agents).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from nanoresearch.coding.contract import failure_class, higher_is_better, val_score
from nanoresearch.execution.patching import unified_diff
from nanoresearch.types import RunResult, RunStatus, SearchNode, SearchTree

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchPolicy:
    drafts: int = 1
    depth: int = 0  # improvement nodes in all
    parallel: int = 1
    debug_attempts: int = 3  # debug children per chain
    max_wall_s: float | None = None  # after the first batch, none starts past this search time


@dataclass
class Proposal:
    """What an operator wrote: the files and a one-line summary (None: nothing usable)."""

    files: dict[str, str]
    summary: str = ""
    source: str = "llm"


class Operators(Protocol):
    def draft(self, index: int) -> Proposal | None: ...
    def debug(self, node: SearchNode, result: RunResult) -> Proposal | None: ...
    def improve(self, node: SearchNode, index: int) -> Proposal | None: ...


RunBatch = Callable[[list[SearchNode]], list[RunResult]]


class TreeSearch:
    def __init__(self, ops: Operators, run_batch: RunBatch, policy: SearchPolicy,
                 primary_metric: str, method: str, on_node: Callable[[SearchNode, RunResult], None] | None = None):
        self.ops, self.run_batch, self.policy = ops, run_batch, policy
        self.metric, self.method = primary_metric, method
        self.tree = SearchTree(primary_metric=primary_metric, parallel=policy.parallel,
                               higher_is_better=higher_is_better(primary_metric))
        self.results: dict[int, RunResult] = {}
        self.on_node = on_node or (lambda node, result: None)
        self._drafted = self._improved = self._next_id = 0
        self._expanded: set[int] = set()  # broken nodes that already got their debug child

    # ------------------------------------------------------------------ main loop
    def run(self) -> SearchTree:
        t0 = self._t0 = time.monotonic()
        while True:
            batch = self._next_batch()
            if not batch:
                break
            for node, result in zip(batch, self.run_batch(batch)):
                self._score(node, result)
                self.tree.nodes.append(node)
                self.on_node(node, result)
        self.tree.best = self.best_id()
        self.tree.wall_s = round(time.monotonic() - t0, 3)
        log.info("code search: %d nodes, best %s (%s=%s on validation)", len(self.tree.nodes),
                 self.tree.best, self.metric, self.best_score())
        return self.tree

    def _next_batch(self) -> list[SearchNode]:
        batch: list[SearchNode] = []
        if self.tree.nodes and self.policy.max_wall_s is not None and time.monotonic() - self._t0 > self.policy.max_wall_s:
            self.tree.stopped = f"time budget of {self.policy.max_wall_s:.0f} s spent"
            log.warning("code search: %s; %d nodes run", self.tree.stopped, len(self.tree.nodes))
            return batch
        while len(batch) < self.policy.parallel:
            node = self._next_action()
            if node is None:
                break
            batch.append(node)
        return batch

    def _next_action(self) -> SearchNode | None:
        """One new node by the policy, or None when the budget is spent."""
        while self._drafted < self.policy.drafts:
            self._drafted += 1
            prop = self.ops.draft(self._drafted - 1)
            if prop is not None:
                return self._child(None, "draft", prop)
        for node in reversed(self.tree.nodes):
            if node.status == "buggy" and node.node_id not in self._expanded \
                    and self._chain(node) < self.policy.debug_attempts:
                self._expanded.add(node.node_id)
                prop = self.ops.debug(node, self.results[node.node_id])
                if prop is not None:
                    return self._child(node, "debug", prop)
        while self._improved < self.policy.depth and self.best_id() is not None:
            self._improved += 1
            parent = self._node(self.best_id())
            prop = self.ops.improve(parent, self._improved - 1)
            if prop is not None:
                return self._child(parent, "improve", prop)
        return None

    # ------------------------------------------------------------------ bookkeeping
    def _child(self, parent: SearchNode | None, op: str, prop: Proposal) -> SearchNode:
        nid, self._next_id = self._next_id, self._next_id + 1
        diff = unified_diff(parent.files, prop.files) if parent else ""
        return SearchNode(node_id=nid, parent=parent.node_id if parent else None, operator=op,
                          files=prop.files, summary=prop.summary[:300], diff=diff)

    def _score(self, node: SearchNode, result: RunResult) -> None:
        self.results[node.node_id] = result
        node.duration_s = round(result.duration_s, 3)
        node.val_score = val_score(result.metrics, self.metric, self.method) \
            if result.status == RunStatus.SUCCEEDED else None
        node.status = "good" if node.val_score is not None else "buggy"
        if node.status == "buggy":
            node.failure_class = failure_class(result)
            node.message = (result.failure.message if result.failure else
                            "succeeded but no validation score for the proposed method")[:600]

    def _chain(self, node: SearchNode) -> int:
        """How many debug nodes lead up to `node` (its debug chain's length)."""
        n = 0
        while node is not None and node.operator == "debug":
            n += 1
            node = self._node(node.parent)
        return n

    def _node(self, nid: int | None) -> SearchNode | None:
        return next((n for n in self.tree.nodes if n.node_id == nid), None)

    def best_id(self) -> int | None:
        good = [n for n in self.tree.nodes if n.status == "good"]
        if not good:
            return None
        sign = 1 if self.tree.higher_is_better else -1
        return max(good, key=lambda n: (sign * n.val_score, -n.node_id)).node_id

    def best_score(self) -> float | None:
        best = self._node(self.best_id())
        return best.val_score if best else None

    def path_to(self, nid: int) -> list[SearchNode]:
        out, node = [], self._node(nid)
        while node is not None:
            out.append(node)
            node = self._node(node.parent)
        return out[::-1]
