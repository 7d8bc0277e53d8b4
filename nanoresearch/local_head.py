"""One local Ray per data dir, shared by the nanoresearch processes using that dir.

Embedded Qdrant lets one process own a store path, so a second `nanoresearch run` (or the
HTTP server beside a CLI run) must reach the first one's store owner actor, which means
joining its Ray. The first process to start a local Ray writes `head.json` (address +
pid) into the data dir's `ray/` folder; later ones join that address and leave a client
file for as long as they run. The owner, at exit, waits until no client is left, so no
project loses its Ray halfway (it says so on stderr while it waits). No daemon is left
behind: the head lives exactly as long as someone uses it.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

log = logging.getLogger(__name__)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True


@contextlib.contextmanager
def starting(share_dir: Path) -> Iterator[None]:
    """Held while a process decides to join or start (and publishes what it started)."""
    share_dir.mkdir(parents=True, exist_ok=True)
    with (share_dir / "head.lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def join(share_dir: Path, connect: Callable[[str], object]) -> bool:
    """Join the data dir's running local Ray; False when none runs (or it is unreachable)."""
    head = share_dir / "head.json"
    try:
        info = json.loads(head.read_text())
    except (OSError, ValueError):
        return False
    if info.get("pid") == os.getpid() or not _alive(int(info.get("pid", 0))):
        return False
    if info.get("token"):  # Ray's token auth: the head's own token, not ~/.ray's latest
        os.environ["RAY_AUTH_TOKEN"] = info["token"]
    try:
        connect(info["address"])
    except Exception as e:  # noqa: BLE001 - a stale record: start our own instead
        log.warning("could not join the local Ray at %s (%s); starting a new one", info["address"], e)
        return False
    client = share_dir / "clients" / str(os.getpid())
    client.parent.mkdir(parents=True, exist_ok=True)
    client.write_text(str(time.time()))
    atexit.register(client.unlink, missing_ok=True)
    log.info("joined the local Ray of pid %s at %s", info["pid"], info["address"])
    return True


def publish(share_dir: Path, address: str, token: str | None = None) -> None:
    """Record this process's local Ray (and its auth token, in a file only this user can
    read) for the next ones; wait for them at exit."""
    share_dir.mkdir(parents=True, exist_ok=True)
    tmp = share_dir / f"head.json.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"address": address, "pid": os.getpid(), "started": time.time(), "token": token}, f)
    os.replace(tmp, share_dir / "head.json")
    atexit.register(_release, share_dir)  # after ray's own atexit: runs before it (LIFO)


def clients(share_dir: Path) -> list[int]:
    d = share_dir / "clients"
    pids = [int(p.name) for p in d.iterdir() if p.name.isdigit()] if d.exists() else []
    return [p for p in pids if _alive(p)]


def _release(share_dir: Path, poll_s: float = 1.0) -> None:
    said = False
    while others := clients(share_dir):
        if not said:
            print(f"waiting for {len(others)} other nanoresearch process(es) using this Ray "
                  f"(pid {', '.join(map(str, others))}) before shutting it down", file=sys.stderr)
            said = True
        time.sleep(poll_s)
    head = share_dir / "head.json"
    try:
        if json.loads(head.read_text()).get("pid") == os.getpid():
            head.unlink()
    except (OSError, ValueError):
        pass
