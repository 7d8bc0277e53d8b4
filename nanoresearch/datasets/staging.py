"""Stage a catalog dataset into a project workspace as plain files.

Generated experiments run in a sandbox (read-only system, maybe no site-packages data),
so they read only `<data_dir>/<name>.npz` (arrays, no pickle) and `<name>.json` (the card
plus meta such as class names, period, task) from their own work dir.
"""
from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np

from nanoresearch.datasets.registry import get_catalog, load, resolve_name
from nanoresearch.workspace import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)
STAGE_FORMAT = 1


def staged_paths(name: str, dest_dir: Path) -> tuple[Path, Path]:
    return Path(dest_dir) / f"{name}.npz", Path(dest_dir) / f"{name}.json"


def stage(name: str, dest_dir: Path | str) -> Path:
    """Write `<dest_dir>/<name>.npz` and `<dest_dir>/<name>.json`; returns the .npz path.
    A dataset already staged in the same format is kept as is (staging is idempotent)."""
    key = resolve_name(name)
    npz, meta_path = staged_paths(key, Path(dest_dir))
    if npz.exists() and meta_path.exists():
        try:
            doc = json.loads(meta_path.read_text())
            # same format and the same card (a dataset whose columns changed is restaged)
            if doc.get("stage_format") == STAGE_FORMAT and doc.get("card") == \
                    get_catalog()[key].model_dump(mode="json"):
                return npz
        except json.JSONDecodeError:
            log.warning("restaging %s: unreadable %s", key, meta_path)
    bundle = load(key)
    for k, arr in bundle.arrays.items():
        if arr.dtype == object:
            raise TypeError(f"dataset {key}: array {k!r} has dtype object; loaders must store "
                            "strings as fixed-width unicode")
    buf = io.BytesIO()
    np.savez_compressed(buf, **bundle.arrays)
    atomic_write_bytes(npz, buf.getvalue())
    doc = {"stage_format": STAGE_FORMAT, "name": key, "card": bundle.card.model_dump(mode="json"),
           "meta": bundle.meta, "arrays": {k: [list(v.shape), str(v.dtype)] for k, v in bundle.arrays.items()}}
    atomic_write_text(meta_path, json.dumps(doc, indent=1))
    log.info("staged dataset %s -> %s (%.1f kB)", key, npz, npz.stat().st_size / 1024)
    return npz
