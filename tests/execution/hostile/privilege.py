import ctypes, os, sys
from _common import attempt
libc = ctypes.CDLL(None, use_errno=True)
attempt("setuid(0)", lambda: os.setuid(0))
attempt("chmod the interpreter", lambda: os.chmod(sys.executable, 0o777))
attempt("chown work dir to root", lambda: os.chown(".", 0, 0))
def ptrace():
    if libc.ptrace(16, 1, None, None) != 0:  # PTRACE_ATTACH to pid 1
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
attempt("ptrace pid 1", ptrace)
def mount():
    if libc.mount(b"none", b"/usr", b"tmpfs", 0, None) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
attempt("mount over /usr", mount)
def userns_remount():
    # a fresh user+mount ns is harmless only if the read-only binds stay locked
    if libc.unshare(0x10000000 | 0x00020000) != 0:
        raise OSError(ctypes.get_errno(), "unshare: " + os.strerror(ctypes.get_errno()))
    if libc.mount(None, b"/usr", None, 32 | 4096, None) != 0:  # MS_REMOUNT|MS_BIND, rw
        raise OSError(ctypes.get_errno(), "remount: " + os.strerror(ctypes.get_errno()))
    return open("/usr/escape-marker", "w").write("x")
attempt("user ns + remount /usr read-write", userns_remount)
