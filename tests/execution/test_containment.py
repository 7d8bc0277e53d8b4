"""Unit tests of the containment pieces that need no cluster: the seccomp program, the
secret scrub of job environments, symlink-safe staging and code writing (L7), the
refusal of the unsafe local backend, and the fixed SLURM batch template."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from nanoresearch.config import Settings
from nanoresearch.errors import ConfigError, UserError
from nanoresearch.execution import make_executor, seccomp_bpf
from nanoresearch.execution.env import safe_env_vars
from nanoresearch.execution.remote import copy_regular_files
from nanoresearch.execution.slurm import batch_script
from nanoresearch.execution.workdir import write_files


def test_seccomp_program_blocks_the_dangerous_syscalls_on_each_arch():
    for machine in ("x86_64", "aarch64"):
        prog = seccomp_bpf.build_filter(machine)
        insns = [struct.unpack("=HBBI", prog[i:i + 8]) for i in range(0, len(prog), 8)]
        assert len(prog) % 8 == 0 and len(insns) < 4096
        compared = {k for code, _, _, k in insns if code == 0x15}
        for name in ("ptrace", "unshare", "setns", "mount", "keyctl", "bpf", "process_vm_readv"):
            assert seccomp_bpf.blocked_numbers(machine)[name] in compared, (machine, name)
        assert insns[-1][3] == seccomp_bpf.RET_ALLOW
    with pytest.raises(ValueError, match="no seccomp syscall table"):
        seccomp_bpf.build_filter("sparc")


def test_job_environment_refuses_secrets_and_nanoresearch_settings():
    assert safe_env_vars({"PYTHONHASHSEED": "0"}) == {"PYTHONHASHSEED": "0"}
    for bad in ("NANORESEARCH_ADMIN_TOKEN", "OPENAI_API_KEY", "NANORESEARCH_HOME"):
        with pytest.raises(UserError, match=bad):
            safe_env_vars({bad: "x"})


def test_local_backend_is_refused_unless_explicitly_allowed(tmp_path):
    with pytest.raises(ConfigError, match="allow_unsandboxed"):
        make_executor(Settings(data_dir=tmp_path, execution={"backend": "local"}))
    ex = make_executor(Settings(data_dir=tmp_path, execution={"backend": "local",
                                                               "allow_unsandboxed": True}))
    assert ex.backend == "local"


def test_staging_for_a_job_never_follows_links(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    wd = tmp_path / "wd"
    (wd / "sub").mkdir(parents=True)
    (wd / "run.py").write_text("print(1)")
    (wd / "sub" / "a.txt").write_text("a")
    (wd / "leak").symlink_to(secret)
    (wd / "leakdir").symlink_to(tmp_path)
    skipped = copy_regular_files(wd, tmp_path / "stage")
    assert skipped == 2 and (tmp_path / "stage" / "sub" / "a.txt").read_text() == "a"
    assert sorted(p.name for p in (tmp_path / "stage").iterdir()) == ["run.py", "sub"]


def test_slurm_batch_script_is_a_fixed_template(tmp_path):
    text = batch_script("/usr/bin/python3", tmp_path / "job dir")
    assert text.splitlines() == ["#!/bin/sh", f"exec /usr/bin/python3 -I '{tmp_path}/job dir/job_entry.py'"]


def test_rewriting_code_never_writes_or_chmods_through_planted_links(tmp_path):
    """L7: links an earlier run left in the work dir are replaced, never followed."""
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "target.sh"
    target.write_text("original")
    target.chmod(0o600)
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "run.sh").symlink_to(target)
    (wd / "data").symlink_to(outside)
    write_files(wd, {"run.sh": "echo hi\n", "data/x.csv": "1,2\n", "run.py": "print(1)\n"},
                executable=("run.sh",))
    assert target.read_text() == "original" and (target.stat().st_mode & 0o777) == 0o600
    assert not (outside / "x.csv").exists()
    assert not (wd / "run.sh").is_symlink() and (wd / "run.sh").read_text() == "echo hi\n"
    assert os.access(wd / "run.sh", os.X_OK) and (wd / "data").is_dir() and not (wd / "data").is_symlink()
    with pytest.raises(UserError, match="relative path"):
        write_files(wd, {"../escape.py": "x"})


def _job_dir(tmp_path, program: str) -> tuple[Path, str]:
    from nanoresearch.execution.base import Limits
    from nanoresearch.execution.remote import new_nonce, write_job_dir
    nonce = new_nonce()
    job = write_job_dir(tmp_path / "job", "work", "run.py", Limits(timeout_s=20), nonce)
    (job / "work").mkdir()
    (job / "work" / "run.py").write_text(program)
    return job, nonce


def test_job_entry_refuses_to_run_uncontained_when_bwrap_is_missing(tmp_path):
    """C1: a Ray/SLURM node without bubblewrap reports an error; it never falls back to
    running the program on the node."""
    from nanoresearch.execution.remote import parse_job_output
    marker = tmp_path / "ran"
    job, nonce = _job_dir(tmp_path, f"open({str(marker)!r}, 'w').write('x')\n")
    proc = subprocess.run([sys.executable, "-I", "job_entry.py"], cwd=job, capture_output=True,
                          text=True, timeout=60, env={"PATH": str(tmp_path / "nothing-here")})
    raw = parse_job_output(proc.stdout, nonce)
    assert proc.returncode == 2 and not marker.exists()
    assert "cannot contain the run on this node" in raw.backend_error and "bubblewrap" in raw.backend_error


def test_a_missing_cgroup_is_refused_or_reported_never_silent(tmp_path, monkeypatch):
    from nanoresearch.execution import bubble, cgroups
    monkeypatch.setattr(cgroups, "ROOT", str(tmp_path / "no-cgroupfs"))
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "run.py").write_text("print('ran')\n")
    out = bubble.Bubble({"timeout_s": 20}, require_cgroup=True).run(wd, "run.py")
    assert "refusing to run without a cgroup" in out["backend_error"] and out["returncode"] is None
    if bubble.sandbox_problem() is None:
        out, stdout, _ = bubble.Bubble({"timeout_s": 20}).run_captured(wd, "run.py")
        assert out["returncode"] == 0 and stdout.strip() == "ran"
        assert any(n.startswith("no cgroup here") for n in out["notes"])
