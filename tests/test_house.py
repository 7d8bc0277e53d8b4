"""The house's floors, checked on every module's imports (module level and inside
functions): the ground floor `nanoresearch` imports none of the other rooms; the rooms
(storage, training, actors, serve) never import the composition root (`nanoresearch_app`),
the CLI or the benchmarks; the composition root never imports the CLI or the benchmarks;
only `ray_*` modules (and the one runtime helper) import Ray."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOMS = ("nanoresearch", "storage", "training", "actors", "serve", "nanoresearch_app",
         "nanoresearch_cli", "benchmarks")
FORBIDDEN = {
    "nanoresearch": set(ROOMS) - {"nanoresearch"},
    "storage": {"actors", "serve", "training", "nanoresearch_app", "nanoresearch_cli", "benchmarks"},
    "training": {"actors", "serve", "nanoresearch_app", "nanoresearch_cli", "benchmarks"},
    "actors": {"serve", "nanoresearch_app", "nanoresearch_cli", "benchmarks"},
    "serve": {"nanoresearch_app", "nanoresearch_cli", "benchmarks"},
    "nanoresearch_app": {"nanoresearch_cli", "benchmarks"},
    "nanoresearch_cli": {"benchmarks"},
}


def imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def modules(room: str):
    yield from sorted((REPO / room).rglob("*.py"))


def test_no_room_imports_a_floor_above_it():
    bad = []
    for room, banned in FORBIDDEN.items():
        for f in modules(room):
            for name in imports(f):
                if name.split(".")[0] in banned:
                    bad.append(f"{f.relative_to(REPO)} imports {name}")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_only_ray_modules_import_ray():
    bad = []
    for room in ROOMS:
        for f in modules(room):
            if f.name.startswith("ray_") or f.name == "gpu_check.py":
                continue
            if any(n == "ray" or n.startswith("ray.") for n in imports(f)):
                bad.append(str(f.relative_to(REPO)))
    assert not bad, "Ray imported outside ray_* modules: " + ", ".join(bad)
