"""Stand-alone wrapper that runs an experiment on a remote worker (Ray job, SLURM).

Copied next to the experiment and started as `python job_entry.py`; it imports only the
standard library because the cluster may not have nanoresearch installed. It reads
`_nr_job.json` (entrypoint, limits, environment), runs the experiment with rlimits, a
scrubbed environment and a wall clock, then prints the exit status, the stderr tail and
metrics.json between markers - a remote job's working dir is a copy the driver cannot
read, but it can read the job's logs. When `NR_RESULT_DIR` names a reachable directory
(same machine or a shared filesystem) the files the run wrote are copied there too.
"""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

MARK = "===NR_{}==="
SPEC_FILE = "_nr_job.json"
COPY_LIMIT = 50 * 1024 * 1024


def _limits(spec):
    mb = 1024 * 1024

    def apply():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (spec["memory_mb"] * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (spec["cpu_s"], spec["cpu_s"] + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (spec["disk_mb"] * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _snapshot(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                out[os.path.relpath(p, root)] = os.stat(p).st_mtime_ns
    return out


def _copy_back(before, dest):
    if not dest or not os.path.isdir(dest) or os.path.samefile(dest, "."):
        return 0
    n = 0
    for rel, mtime in _snapshot(".").items():
        if before.get(rel) == mtime or rel in (SPEC_FILE, "job_entry.py"):
            continue
        if os.path.getsize(rel) > COPY_LIMIT:
            continue
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        real_dest = os.path.realpath(dest)
        if os.path.commonpath([os.path.realpath(os.path.dirname(target)), real_dest]) != real_dest:
            continue  # a directory link planted in the result dir: never copy through it
        if os.path.islink(target):
            os.unlink(target)
        shutil.copyfile(rel, target)
        n += 1
    return n


def main():
    spec = json.load(open(SPEC_FILE))
    ep = spec["entrypoint"]
    cmd = [sys.executable, "-u", ep] if ep.endswith(".py") else ["/bin/sh", ep]
    env = dict(spec["env"])
    env["PATH"] = os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin"
    env["HOME"] = env["TMPDIR"] = os.getcwd()
    env["MPLCONFIGDIR"] = os.path.join(os.getcwd(), ".mpl")
    env["XDG_CACHE_HOME"] = os.path.join(os.getcwd(), ".cache")
    before = _snapshot(".")
    t0, timed_out = time.time(), False
    with open("_nr_stderr.txt", "wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=None, stderr=err, preexec_fn=_limits(spec))
        try:
            proc.wait(timeout=spec["timeout_s"])
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _report(proc.returncode, timed_out, time.time() - t0, before)
    sys.exit(1 if timed_out else (proc.returncode if proc.returncode >= 0 else 128 - proc.returncode))


def _report(rc, timed_out, duration, before):
    sys.stdout.flush()
    with open("_nr_stderr.txt", "rb") as f:
        f.seek(max(0, os.path.getsize("_nr_stderr.txt") - 64000))
        err = f.read().decode("utf-8", "replace")
    os.unlink("_nr_stderr.txt")
    status = {"returncode": rc, "timed_out": timed_out, "duration_s": round(duration, 3)}
    print("\n" + MARK.format("STDERR_BEGIN") + "\n" + err + "\n" + MARK.format("STDERR_END"))
    if os.path.isfile("metrics.json") and not os.path.islink("metrics.json"):
        with open("metrics.json", errors="replace") as f:
            print(MARK.format("METRICS_BEGIN") + "\n" + f.read(5_000_000) + "\n" + MARK.format("METRICS_END"))
    status["copied"] = _copy_back(before, os.environ.get("NR_RESULT_DIR"))
    print(MARK.format("STATUS") + " " + json.dumps(status), flush=True)


if __name__ == "__main__":
    main()
