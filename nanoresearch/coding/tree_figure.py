"""Drawing `experiment/tree.json` as a figure for the report: one box per node, placed
by depth (top to bottom) and creation order, coloured by status (good / buggy), edges
labelled by operator, the selected node outlined, each box showing the validation score
of the primary metric."""
from __future__ import annotations

from pathlib import Path

from nanoresearch.types import SearchTree

COLORS = {"good": "#9be39b", "buggy": "#f4a6a6", "pending": "#dddddd"}


def _depths(tree: SearchTree) -> dict[int, int]:
    by_id = {n.node_id: n for n in tree.nodes}
    out: dict[int, int] = {}
    for n in tree.nodes:
        d, cur = 0, n
        while cur.parent is not None and cur.parent in by_id:
            d, cur = d + 1, by_id[cur.parent]
        out[n.node_id] = d
    return out


def draw_tree(tree: SearchTree, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depth = _depths(tree)
    rows: dict[int, list[int]] = {}
    for n in tree.nodes:
        rows.setdefault(depth[n.node_id], []).append(n.node_id)
    pos = {nid: (i - (len(ids) - 1) / 2, -d) for d, ids in rows.items() for i, nid in enumerate(ids)}
    width = max((len(v) for v in rows.values()), default=1)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.9 * width), max(2.5, 1.3 * len(rows) + 0.8)))
    for n in tree.nodes:
        if n.parent in pos:
            (x0, y0), (x1, y1) = pos[n.parent], pos[n.node_id]
            ax.plot([x0, x1], [y0, y1], color="#888888", lw=1, zorder=1)
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, n.operator, fontsize=7, color="#555555",
                    ha="center", va="center", backgroundcolor="white", zorder=2)
    for n in tree.nodes:
        x, y = pos[n.node_id]
        score = f"{n.val_score:.3f}" if n.val_score is not None else n.failure_class or n.status
        ax.text(x, y, f"#{n.node_id} {n.operator}\n{score}", ha="center", va="center", fontsize=8,
                zorder=3, bbox=dict(boxstyle="round", fc=COLORS.get(n.status, "#dddddd"),
                                    ec="black" if n.node_id == tree.best else "#999999",
                                    lw=2.5 if n.node_id == tree.best else 0.8))
    ax.set_title(f"Code search: {len(tree.nodes)} nodes, selected #{tree.best} by validation "
                 f"{tree.primary_metric}", fontsize=9)
    ax.set_xlim(-width / 2 - 0.5, width / 2 + 0.5)
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.axis("off")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
