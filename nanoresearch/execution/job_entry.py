"""Entry point that runs one experiment on a Ray or SLURM node, contained.

Layout of a job directory (written by remote.py; only our own files at its top):

    job_entry.py bubble.py cgroups.py seccomp_bpf.py   this wrapper and the profile
    _nr_job.json                                       entrypoint, limits, nonce, paths
    work/                                              the experiment (Ray: the copy;
                                                       SLURM: work_dir names it instead)

Started as `python -I job_entry.py` (isolated: no PYTHONPATH, no script dir on sys.path,
so a model-written `json.py` can never be imported here, outside the sandbox). The
experiment runs inside bubble.Bubble - the same profile as the sandbox backend - and
this wrapper prints its output and status between markers that carry a per-run random
nonce: the experiment cannot read the nonce (it is in this directory, which the sandbox
does not mount), so a status line it prints is never taken for the real one. When
`result_dir` names a reachable directory (same machine or shared filesystem), the files
the run wrote are copied there. Standard library only: nanoresearch may not be
installed on the node.
"""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC_FILE = "_nr_job.json"
SHIPPED = ("job_entry.py", "bubble.py", "cgroups.py", "seccomp_bpf.py")
COPY_LIMIT = 50 * 1024 * 1024


def mark(nonce: str, name: str) -> str:
    return f"===NR_{nonce}_{name}==="


def _snapshot(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                out[os.path.relpath(p, root)] = os.stat(p).st_mtime_ns
    return out


def _copy_back(work, before, dest):
    """Copy new/changed regular files to `dest`, never through a link planted there."""
    if not dest or not os.path.isdir(dest) or os.path.samefile(dest, work):
        return 0
    real_dest, n = os.path.realpath(dest), 0
    for rel, mtime in _snapshot(work).items():
        src = os.path.join(work, rel)
        if before.get(rel) == mtime or os.path.getsize(src) > COPY_LIMIT:
            continue
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.commonpath([os.path.realpath(os.path.dirname(target)), real_dest]) != real_dest:
            continue
        if os.path.islink(target):
            os.unlink(target)
        shutil.copyfile(src, target, follow_symlinks=False)
        n += 1
    return n


def _run(spec, work):
    sys.path.insert(0, HERE)  # -I left it out: only the shipped files live here
    import bubble
    try:
        box = bubble.Bubble(spec["limits"], require_cgroup=spec.get("require_cgroup", False))
        return box.run_captured(work, spec["entrypoint"])
    except (RuntimeError, ValueError, OSError) as e:  # no bwrap, no setpriv, bad entrypoint
        out = bubble._outcome(backend_error=f"cannot contain the run on this node: {e}")
        return out, "", ""


def main():
    with open(os.path.join(HERE, SPEC_FILE)) as f:
        spec = json.load(f)
    nonce = spec["nonce"]
    work = os.path.join(HERE, spec["work_dir"])
    before = _snapshot(work)
    outcome, out, err = _run(spec, work)
    if spec.get("result_dir"):
        outcome["copied"] = _copy_back(work, before, spec["result_dir"])
    sections = [("STDOUT", out), ("STDERR", err)]
    metrics = os.path.join(work, "metrics.json")
    if os.path.isfile(metrics) and not os.path.islink(metrics):
        with open(metrics, errors="replace") as f:
            sections.append(("METRICS", f.read(5_000_000)))
    text = "".join(f"\n{mark(nonce, n + '_BEGIN')}\n{body}\n{mark(nonce, n + '_END')}\n"
                   for n, body in sections)
    sys.stdout.write(text + mark(nonce, "STATUS") + " " + json.dumps(outcome) + "\n")
    sys.stdout.flush()
    if outcome["backend_error"]:
        sys.exit(2)


if __name__ == "__main__":
    main()
