# moving itself to the root cgroup would drop the memory/pids limits
import glob, os
from _common import attempt
attempt("write /sys/fs/cgroup/cgroup.procs",
        lambda: open("/sys/fs/cgroup/cgroup.procs", "w").write(str(os.getpid())))
for f in glob.glob("/sys/fs/cgroup/*/cgroup.procs"):
    attempt(f"write {f}", lambda f=f: open(f, "w").write(str(os.getpid())))
attempt("raise pids.max", lambda: open("/sys/fs/cgroup/pids/pids.max", "w").write("max"))
