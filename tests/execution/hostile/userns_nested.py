# a nested user namespace would make the program uid 0 inside it (H3)
import ctypes, os, subprocess
from _common import attempt
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000


def unshare(flags, what):
    def go():
        if libc.unshare(flags) != 0:
            raise OSError(ctypes.get_errno(), f"unshare({what}): " + os.strerror(ctypes.get_errno()))
        return f"uid now {os.getuid()}"
    return go


attempt("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER, "user"))
attempt("unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET, "net"))
attempt("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS, "mount"))


def unshare_binary():
    out = subprocess.run(["unshare", "-Ur", "id", "-u"], capture_output=True, text=True, timeout=5)
    if out.returncode != 0:
        raise OSError(out.stderr.strip())
    return out.stdout
attempt("unshare -Ur id", unshare_binary)
