"""One local Ray per data dir: the second nanoresearch process joins the first one's Ray
(and so its store owner and planner replica); the owner waits for it before shutting
down; a stale record (owner gone) is ignored."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from nanoresearch import local_head


def test_second_process_joins_the_published_head(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "head.json").write_text(json.dumps({"address": "127.0.0.1:6399", "pid": holder.pid}))
        joined = []
        assert local_head.join(tmp_path, joined.append)
        assert joined == ["127.0.0.1:6399"]
        assert os.getpid() in local_head.clients(tmp_path)
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_or_unreachable_head_is_not_joined(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "head.json").write_text(json.dumps({"address": "x:1", "pid": dead.pid}))
    assert not local_head.join(tmp_path, lambda a: None)
    (tmp_path / "head.json").write_text(json.dumps({"address": "x:1", "pid": os.getppid()}))

    def refuse(address: str) -> None:
        raise ConnectionError("no GCS there")

    assert not local_head.join(tmp_path, refuse)
    assert not local_head.join(tmp_path / "missing", lambda a: None)


def test_the_owner_waits_for_joined_processes(tmp_path):
    client = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    (tmp_path / "clients").mkdir()
    (tmp_path / "clients" / str(client.pid)).write_text("0")
    (tmp_path / "head.json").write_text(json.dumps({"address": "a", "pid": os.getpid()}))
    done = threading.Event()
    th = threading.Thread(target=lambda: (local_head._release(tmp_path, poll_s=0.1), done.set()))
    th.start()
    th.join(1.0)
    assert not done.is_set() and client.poll() is None  # still waiting for the live client
    client.kill()
    client.wait()
    th.join(30)
    assert done.is_set() and not (tmp_path / "head.json").exists()


def test_starting_is_one_process_at_a_time(tmp_path):
    log = tmp_path / "log"
    script = ("import os, sys, time; from pathlib import Path; from nanoresearch import local_head\n"
              "log = Path(sys.argv[2])\n"
              "with local_head.starting(Path(sys.argv[1])):\n"
              "    with log.open('a') as f: f.write(f'in {os.getpid()}\\n')\n"
              "    time.sleep(1)\n"
              "    with log.open('a') as f: f.write(f'out {os.getpid()}\\n')\n")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "ray"), str(log)], env=env)
             for _ in range(2)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    lines = [line.split() for line in log.read_text().splitlines()]
    assert [k for k, _ in lines] == ["in", "out", "in", "out"]  # never two inside at once
    assert lines[0][1] == lines[1][1] and lines[2][1] == lines[3][1]
