"""No module of the service, the API or the CLI builds a status as a dict: project status
travels as ProjectStatusReport / ProjectSummary (nanoresearch/types.py) end to end."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCOPE = ["nanoresearch_app/service.py", "nanoresearch_app/progress.py", "nanoresearch_app/ray_launch.py",
         *sorted(str(p.relative_to(REPO)) for d in ("serve", "nanoresearch_cli") for p in (REPO / d).glob("*.py"))]
# (module, function) whose "status" is not a project's status
ALLOWED = {("serve/api.py", "health"),  # the liveness probe: {"status": "ok"}
           ("serve/http_limits.py", "_reply"),  # the ASGI message's HTTP status code
           ("nanoresearch_cli/commands.py", "dispatch")}  # the subcommand table: `nanoresearch status`


def _status_dicts(tree: ast.AST):
    """(function, line) of each dict literal with a "status" key, and of each
    `x["status"]` / `x.get("status")` read of one."""
    funcs = (ast.FunctionDef, ast.AsyncFunctionDef)
    for fn in [n for n in ast.walk(tree) if isinstance(n, funcs)]:
        inner = {id(m) for f in ast.walk(fn) if isinstance(f, funcs) and f is not fn for m in ast.walk(f)}
        for n in ast.walk(fn):
            if id(n) in inner:  # counted in its own (innermost) function
                continue
            if isinstance(n, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "status" for k in n.keys):
                yield fn.name, n.lineno
            elif isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and n.slice.value == "status":
                yield fn.name, n.lineno
            elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "get" \
                    and n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value == "status":
                yield fn.name, n.lineno


def test_no_status_dicts_in_the_service_api_or_cli():
    bad = [f"{rel}:{line} in {fn}()" for rel in SCOPE
           for fn, line in _status_dicts(ast.parse((REPO / rel).read_text(), rel))
           if (rel, fn) not in ALLOWED]
    assert not bad, "status built or read as a dict (use the typed models):\n" + "\n".join(bad)


def test_the_scan_finds_one():
    tree = ast.parse('def f(r):\n    x = {"status": "done"}\n    def g():\n        return r.get("status")\n'
                     '    return r["status"]\n')
    assert sorted(_status_dicts(tree)) == [("f", 2), ("f", 5), ("g", 4)]
