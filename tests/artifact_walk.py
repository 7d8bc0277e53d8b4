"""Walk a project workspace through the artifact registry (nanoresearch/artifacts.py):
every registered artifact present is read through the registry and validated against its
model, its `kind` and `schema_version` included. Used on a project run by scripted agents
(tests/test_artifacts.py) and on the real service's finished project
(tests/serve/test_real_service.py)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nanoresearch import artifacts as A

# the experiment's own files (its code, outputs, metrics) and the paper's per-round
# snapshots are not the system's artifacts: the registry does not name them
NOT_ARTIFACTS = ("experiment/code/", "writing/history/", "data/")


def walk(root: Path) -> dict[str, tuple[A.ArtifactSpec, Any]]:
    """{relative path: (spec, value read through the registry)} of every registered
    artifact present; fails on one that does not validate or carries another kind."""
    root = Path(root)
    found: dict[str, tuple[A.ArtifactSpec, Any]] = {}
    for spec in A.ALL:
        for rel in A.matches(root, spec):
            assert rel not in found, f"{rel} is named by two specs: {found[rel][0].key}, {spec.key}"
            got = A.read_path(root / rel, spec)
            assert got is not None, f"{rel} does not read as {spec.key} ({spec.model})"
            if spec.item_model is not None:
                items = got if isinstance(got, list) else [got]
                assert all(isinstance(i, spec.item_model) for i in items), rel
            if spec.kind is not None:
                raw = ([json.loads(x) for x in (root / rel).read_text().splitlines() if x.strip()]
                       if spec.form == "jsonl" else json.loads((root / rel).read_text()))
                for item in raw if isinstance(raw, list) else [raw]:
                    assert item.get("kind") == spec.kind, f"{rel}: kind {item.get('kind')!r} != {spec.kind!r}"
                    assert item.get("schema_version") == spec.schema_version, rel
            found[rel] = (spec, got)
    return found


def unnamed_json(root: Path, found: dict) -> list[str]:
    """JSON files the system wrote that no spec names (the registry is incomplete)."""
    root = Path(root)
    out = []
    for p in sorted(root.rglob("*.json*")):
        rel = str(p.relative_to(root))
        if p.is_file() and rel not in found and not rel.startswith(NOT_ARTIFACTS) \
                and not p.name.startswith("."):
            out.append(rel)
    return out
