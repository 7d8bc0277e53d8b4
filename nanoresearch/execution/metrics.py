"""Reading an experiment's `metrics.json`: the only place results come from.

The file is a JSON list of `MetricRecord` dicts (method, dataset, metric, value, seed,
split). Anything else - a dict, a NaN, a missing field - is rejected with a message that
tells the coding/debugging agent exactly what to write instead.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from pydantic import ValidationError

from nanoresearch.types import MetricRecord

METRICS_FILE = "metrics.json"
MAX_METRICS_BYTES = 5_000_000
SCHEMA_HINT = ('write metrics.json as a JSON list like [{"method": "mlp", "dataset": "digits", '
               '"metric": "accuracy", "value": 0.97, "seed": 0, "split": "test"}]')


def parse_metrics_text(text: str) -> tuple[list[MetricRecord], str | None]:
    """(records, None) when valid, else ([], reason)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        return [], f"metrics.json is not valid JSON ({e}); {SCHEMA_HINT}"
    if isinstance(data, dict) and isinstance(data.get("metrics"), list):
        data = data["metrics"]  # tolerated wrapper; the records themselves stay strict
    if not isinstance(data, list):
        return [], f"metrics.json must hold a JSON list, got {type(data).__name__}; {SCHEMA_HINT}"
    if not data:
        return [], f"metrics.json is an empty list; {SCHEMA_HINT}"
    records: list[MetricRecord] = []
    for i, item in enumerate(data):
        try:
            rec = MetricRecord.model_validate(item)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            return [], f"metrics.json item {i}: {where}: {first['msg']}; {SCHEMA_HINT}"
        if not math.isfinite(rec.value):
            return [], (f"metrics.json item {i}: value is {rec.value}, not a finite number "
                        "(the run likely diverged: fix it, do not report it)")
        records.append(rec)
    return records, None


def read_metrics(work_dir: Path, shipped_text: str | None = None
                 ) -> tuple[list[MetricRecord], str | None]:
    """Metrics from `work_dir/metrics.json`, or from text a remote backend shipped back
    (a Ray job prints it into its logs) when the file is not on this machine."""
    path = Path(work_dir) / METRICS_FILE
    if path.is_symlink():
        return [], "metrics.json is a symlink; write a regular file"
    if path.is_file():
        if path.stat().st_size > MAX_METRICS_BYTES:
            return [], f"metrics.json is larger than {MAX_METRICS_BYTES} bytes"
        return parse_metrics_text(path.read_text(errors="replace"))
    if shipped_text is not None:
        return parse_metrics_text(shipped_text)
    return [], f"the program wrote no metrics.json in its working directory; {SCHEMA_HINT}"
