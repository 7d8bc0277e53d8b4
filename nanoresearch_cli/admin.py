"""CLI commands that manage users, the stores, serving and cluster submission."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nanoresearch.config import Settings
from nanoresearch.errors import UserError


def profile_command(settings: Settings, action: str, user: str, console: Console,
                    ask=input) -> int:
    from storage.service import open_store

    store = open_store(settings)
    try:
        if action == "show":
            prof = store.get_profile(user)
            if prof is None:
                raise UserError(f"no profile for {user!r}; create one with "
                                f"`nanoresearch profile init --user {user}`")
            console.print_json(prof.model_dump_json())
            show_learned(settings, store, user, console)
            return 0
        answers: dict[str, Any] = {}
        for q in store.profile_questions():
            default = q.get("default")
            shown = ", ".join(default) if isinstance(default, list) else default
            raw = ask(f"{q['prompt']} [{shown}]: ").strip()
            if raw:
                answers[q["field"]] = raw
        prof = store.save_profile_answers(user, answers)
        console.print(f"saved profile {user} v{prof.version}")
        return 0
    finally:
        store.close()


def show_learned(settings: Settings, store: Any, user: str, console: Console) -> None:
    """What the system learned about the user, with the ids to delete any of it."""
    from storage.adapters import AdapterRegistry

    out = store.learned(user)
    out["adapters"] = [a.model_dump(mode="json", include={"version", "status", "created_at"})
                       for a in AdapterRegistry(settings.adapters_dir).list(user)]
    console.print("learned about this user (delete with `nanoresearch memories delete ID "
                  f"--user {user}` / `nanoresearch skills delete ID`; serve an earlier planner "
                  f"adapter with `nanoresearch adapters rollback --user {user} [--to N]`):", markup=False)
    console.print_json(json.dumps(out, default=str))


def adapters_command(settings: Settings, action: str, user: str, to_version: int | None,
                     console: Console) -> int:
    """List the user's planner adapter versions (the served one marked), or serve an
    earlier one; a serving planner follows the registry's pointer on its next call."""
    from storage.adapters import AdapterRegistry

    reg = AdapterRegistry(settings.adapters_dir)
    if action == "rollback":
        rec = reg.rollback(user, to_version)  # UserError when there is nothing to roll back to
        console.print(f"{user} is now served " + (f"adapter v{rec.version}" if rec else "the base model"))
        return 0
    current = reg.current_version(user)
    t = Table(title=f"planner adapters of {user} (served: {f'v{current}' if current else 'base model'})")
    for col in ("version", "status", "parent", "created", "metrics"):
        t.add_column(col)
    for a in reg.list(user):
        t.add_row(f"v{a.version}" + (" *" if a.version == current else ""), a.status,
                  f"v{a.parent_version}" if a.parent_version else "-",
                  time.strftime("%Y-%m-%d %H:%M", time.localtime(a.created_at)),
                  escape(", ".join(f"{k} {v:.3g}" for k, v in sorted(a.metrics.items()))[:60]))
    console.print(t)
    return 0


def store_command(settings: Settings, kind: str, action: str, arg: str | None, user: str,
                  k: int, console: Console) -> int:
    from storage.service import open_store

    store = open_store(settings)
    try:
        return _store_action(store, kind, action, arg, user, k, console)
    finally:
        store.close()


def _store_action(store, kind, action, arg, user, k, console) -> int:
    skills = kind == "skills"
    if action in ("show", "delete", "search", "export", "import") and not arg:
        raise UserError(f"`{kind} {action}` needs an argument (id, query or directory)")
    if action == "list":
        rows = store.list_skills(user_id=user) if skills else store.list_memories(user)
    elif action == "search":
        rows = store.retrieve_skills(query=arg, user_id=user, k=k) if skills else \
            store.retrieve_memories(query=arg, user_id=user, k=k)
    elif action == "show":
        row = store.get_skill(arg) if skills else store.get_memory(arg, user)
        if row is None:
            raise UserError(f"no {kind[:-1]} {arg!r} visible to user {user!r}")
        console.print_json(row.model_dump_json())
        return 0
    elif action == "delete":
        ok = store.delete_skill(arg, user, admin=True) if skills else store.delete_memory(arg, user)
        console.print("deleted" if ok else f"no {kind[:-1]} {arg!r} owned by {user!r}")
        return 0 if ok else 1
    elif action == "export":
        console.print(store.export_jsonl(arg))
        return 0
    else:
        console.print(store.import_jsonl(arg, merge=True))
        return 0
    t = Table(title=kind)
    for col in ("id", "what", "scope/conditions", "score"):
        t.add_column(col)
    for r in rows:
        if skills:
            t.add_row(r.id, escape(f"{r.name}: {r.when_to_use[:60]}"), r.scope,
                      f"conf {r.confidence:.2f}, used {r.usage_count}")
        else:
            t.add_row(r.id, escape(r.content[:70]), escape(json.dumps(r.conditions)[:40]),
                      f"imp {r.importance:.2f}")
    console.print(t)
    return 0


def serve_command(settings: Settings, planner: bool, block: bool, console: Console) -> int:
    import functools

    from nanoresearch.ray_runtime import init_ray_for
    from nanoresearch_app.service import SystemProjectService
    from serve.ray_api import run_api

    from nanoresearch.workspace import recover_stale

    recovered = recover_stale(settings.projects_dir)  # left "running" by a dead server
    if recovered:
        console.print(f"marked {len(recovered)} interrupted project(s) failed (resume them): "
                      + ", ".join(recovered))
    init_ray_for(settings)  # CLI runs with the same data dir join this Ray (store, planner)
    if planner:
        from serve.ray_planner import deploy_planner, planner_base_url
        deploy_planner(settings)
        console.print(f"planner (OpenAI-compatible): {planner_base_url(settings)}")
    run_api(functools.partial(SystemProjectService, settings), settings)
    console.print(f"API + web page: http://{settings.serve.host}:{settings.serve.port}/  "
                  f"(API docs at /docs)")
    if block:
        import time
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    return 0


def admin_command(settings: Settings, action: str, user: str | None, token_id: str | None,
                  console: Console) -> int:
    """User administration on this host's token file (the operator's shell is trusted):
    `users`, `issue USER`, `revoke USER --token-id ID`, `remove USER`."""
    from serve.auth import TokenAuth, check_user_id, tokens_path

    auth = TokenAuth(tokens_path(settings.data_dir))
    if action == "users":
        t = Table(title="users (tokens)")
        for col in ("user", "token id", "created"):
            t.add_column(col)
        for uid, toks in sorted(auth.users().items()):
            for tok in toks:
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(tok["created_at"] or 0))
                t.add_row(escape(uid), tok["token_id"], when)
        console.print(t)
        return 0
    if not user:
        raise UserError(f"`admin {action}` needs a user id")
    check_user_id(user)
    if action == "issue":
        console.print(f"token for {escape(user)} (shown once): {auth.issue(user)}", highlight=False)
    elif action == "revoke":
        if not token_id:
            raise UserError("`admin revoke USER --token-id ID` (ids from `nanoresearch admin users`)")
        ok = auth.revoke_token_id(user, token_id)
        console.print("revoked" if ok else f"{escape(user)} has no token {escape(token_id)}")
        return 0 if ok else 1
    else:
        n = auth.revoke_user(user)
        console.print(f"removed {escape(user)}: {n} token(s) revoked; their data is kept")
        return 0 if n else 1
    return 0


def submit_request(rest: list[str], address: str, wait: bool) -> list[str]:
    """The `ray job submit` command line: this checkout as the job's working_dir and a
    portable entrypoint (`python -m nanoresearch_cli`, whatever python the cluster has).
    No environment is shipped: settings and secrets come from the cluster's own config
    (cluster.yaml writes ~/.nanoresearch.env on every node), never from this laptop."""
    root = Path(__file__).resolve().parent.parent
    runtime_env = {"working_dir": str(root),
                   "excludes": [".git", "results", "*.pdf", "__pycache__", ".venv"]}
    return ["ray", "job", "submit", "--address", address, "--runtime-env-json",
            json.dumps(runtime_env)] + ([] if wait else ["--no-wait"]) + \
        ["--", "python", "-m", "nanoresearch_cli"] + rest


def submit_command(settings: Settings, rest: list[str], address: str | None, wait: bool,
                   console: Console) -> int:
    """`ray job submit` of the same CLI entry point; the project's orchestrator actor is
    detached there, so it outlives the job's driver."""
    address = address or os.environ.get("RAY_ADDRESS")
    if not address:
        raise UserError("no Ray cluster address: pass --address http://HOST:8265 or set RAY_ADDRESS")
    cmd = submit_request(rest, address, wait)
    console.print("$ " + " ".join(shlex.quote(c) for c in cmd))
    from nanoresearch.execution.ray_jobs import find_auth_token

    env_cli = dict(os.environ)
    if find_auth_token():  # a head with token auth (Ray >= 2.5x): the ray CLI must send it
        env_cli.setdefault("RAY_AUTH_MODE", "token")
    return subprocess.call(cmd, env=env_cli)
