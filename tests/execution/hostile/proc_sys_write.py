# kernel knobs through /proc
from _common import attempt
attempt("write /proc/sysrq-trigger", lambda: open("/proc/sysrq-trigger", "w").write("h"))
attempt("write /proc/sys/kernel/hostname", lambda: open("/proc/sys/kernel/hostname", "w").write("pwned"))
attempt("write /proc/sys/vm/drop_caches", lambda: open("/proc/sys/vm/drop_caches", "w").write("3"))
attempt("read /proc/kcore", lambda: open("/proc/kcore", "rb").read(16))
