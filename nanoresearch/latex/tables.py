"""Tables generated from the metrics JSON (never by a model).

Rows are methods, columns (dataset, metric) pairs; a cell is mean $\\pm$ std over seeds at
a precision chosen from the magnitude, the best mean per column in bold. The numbers are
the same aggregates the fabrication checker derives, so a table always traces back.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Sequence

from nanoresearch.latex.escape import escape_latex
from nanoresearch.types import MetricRecord

LOWER_IS_BETTER = ("loss", "error", "err", "rmse", "mse", "mae", "mape", "perplexity", "ppl",
                   "time", "latency", "seconds", "wer", "cer", "nll", "brier", "memory", "model size")


def lower_is_better(metric: str) -> bool:
    m = metric.lower()
    return any(tok in m for tok in LOWER_IS_BETTER)


def decimals_for(values: Sequence[float]) -> int:
    biggest = max((abs(v) for v in values), default=0.0)
    return 3 if biggest < 10 else 2 if biggest < 1000 else 1


def aggregate(metrics: Sequence[MetricRecord], split: str | None = "test") -> dict:
    """{(dataset, metric): {method: [values]}} over seeds, for one split (all when the
    metrics carry no such split)."""
    recs = [m for m in metrics if split is None or m.split == split] or list(metrics)
    table: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for m in recs:
        table[(m.dataset, m.metric)][m.method].append(m.value)
    return table


def _cell(vals: list[float], d: int, best: bool) -> str:
    mean = statistics.fmean(vals)
    text = f"{mean:.{d}f}"
    if len(vals) > 1:
        text += f" $\\pm$ {statistics.stdev(vals):.{d}f}"
    return f"\\textbf{{{text}}}" if best else text


def results_table(metrics: Sequence[MetricRecord], *, caption: str = "", label: str = "tab:results",
                  method_order: Sequence[str] = (), max_columns: int = 6, wide: bool = False,
                  keep_column_order: bool = False) -> str:
    """A booktabs table as LaTeX; empty string when there are no metrics. Columns are sorted
    by (dataset, metric), or kept in the records' order (conditions along an axis)."""
    table = aggregate(metrics)
    if not table:
        return ""
    columns = (list(table) if keep_column_order else sorted(table))[:max_columns]
    methods = list(dict.fromkeys([*method_order, *sorted({m for c in columns for m in table[c]})]))
    methods = [m for m in methods if any(m in table[c] for c in columns)]
    header = " & ".join(f"{escape_latex(ds)} ({escape_latex(met)})" for ds, met in columns)
    rows = []
    for meth in methods:
        cells = []
        for col in columns:
            vals = table[col].get(meth)
            if not vals:
                cells.append("--")
                continue
            means = {k: statistics.fmean(v) for k, v in table[col].items()}
            pick = min if lower_is_better(col[1]) else max
            d = decimals_for([v for vs in table[col].values() for v in vs])
            cells.append(_cell(vals, d, statistics.fmean(vals) == pick(means.values()) and len(means) > 1))
        rows.append(escape_latex(meth) + " & " + " & ".join(cells) + r" \\")
    n_seeds = max(len(v) for c in columns for v in table[c].values())
    cap = caption or (f"Results on the test split: mean $\\pm$ standard deviation over {n_seeds} seeds; "
                      "best mean in bold.")
    env = "table*" if wide else "table"
    return "\n".join([
        f"\\begin{{{env}}}[t]", "\\centering", "\\small",
        # shrink to the column only when wider than it (long method names, many columns)
        "\\begin{adjustbox}{max width=\\linewidth}",
        f"\\begin{{tabular}}{{l{'c' * len(columns)}}}", "\\toprule",
        f"Method & {header} \\\\", "\\midrule", *rows, "\\bottomrule", "\\end{tabular}", "\\end{adjustbox}",
        f"\\caption{{{cap}}}", f"\\label{{{label}}}", f"\\end{{{env}}}", ""])
