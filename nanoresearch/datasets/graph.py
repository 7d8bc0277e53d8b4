"""Graph datasets: networkx's bundled social networks and torch_geometric's KarateClub.
Stored as edge lists (+ node labels/features where the task has them)."""
from __future__ import annotations

import numpy as np

from nanoresearch.datasets.registry import DatasetBundle, encode_labels, register
from nanoresearch.types import DatasetCard


def _edges(g) -> tuple[np.ndarray, list[str]]:
    nodes = list(g.nodes())
    index = {n: i for i, n in enumerate(nodes)}
    e = np.asarray([(index[a], index[b]) for a, b in g.edges() if a != b], dtype=np.int64)
    return e, [str(n) for n in nodes]


@register(DatasetCard(
    name="karate_club", domain="graph", task="node_classification", source="networkx.karate_club_graph",
    size="34 nodes, 78 edges", n_samples=34, targets="faction after the split: Mr. Hi / Officer",
    license="public (Zachary 1977)", default_metric="accuracy",
    description="Zachary's karate club; node features are the identity (the scaffold derives "
                "structural features)."))
def _karate(card: DatasetCard) -> DatasetBundle:
    import networkx as nx

    g = nx.karate_club_graph()
    edges, names = _edges(g)
    y, classes = encode_labels([g.nodes[n]["club"] for n in g.nodes()])
    return DatasetBundle(card.name, card, {"edges": edges, "y": y, "x": np.eye(len(names), dtype=np.float32)},
                         {"task": "node_classification", "class_names": classes, "node_names": names})


@register(DatasetCard(
    name="pyg_karate_club", domain="graph", task="node_classification",
    source="torch_geometric.datasets.KarateClub", size="34 nodes, 156 directed edges", n_samples=34,
    targets="4 communities (modularity-based labels)", license="public (Zachary 1977)",
    default_metric="accuracy", description="PyG's KarateClub with its 4-community labels."))
def _pyg_karate(card: DatasetCard) -> DatasetBundle:
    from torch_geometric.datasets import KarateClub

    d = KarateClub()[0]
    e = d.edge_index.numpy().T
    e = e[e[:, 0] < e[:, 1]].astype(np.int64)  # undirected: keep each edge once
    y = d.y.numpy().astype(np.int64)
    return DatasetBundle(card.name, card, {"edges": e, "y": y, "x": d.x.numpy().astype(np.float32)},
                         {"task": "node_classification", "class_names": [str(c) for c in range(int(y.max()) + 1)]})


for _name, _fn, _size, _n, _desc in [
    ("les_miserables", "les_miserables_graph", "77 nodes, 254 edges", 77,
     "Co-appearance of characters in Les Miserables (Knuth 1993)."),
    ("florentine_families", "florentine_families_graph", "15 nodes, 20 edges", 15,
     "Marriage ties among Renaissance Florentine families (Padgett)."),
    ("davis_southern_women", "davis_southern_women_graph", "32 nodes, 89 edges", 32,
     "Bipartite attendance of 18 women at 14 social events (Davis 1941)."),
]:
    register(DatasetCard(
        name=_name, domain="graph", task="link_prediction", source=f"networkx.{_fn}", size=_size,
        n_samples=_n, targets="held-out edges vs sampled non-edges", license="public (networkx bundled)",
        default_metric="auc", description=_desc))(
        lambda card, _fn=_fn: _link_bundle(card, _fn))


def _link_bundle(card: DatasetCard, fn_name: str) -> DatasetBundle:
    import networkx as nx

    edges, names = _edges(getattr(nx, fn_name)())
    return DatasetBundle(card.name, card, {"edges": edges},
                         {"task": "link_prediction", "n_nodes": len(names), "node_names": names})
