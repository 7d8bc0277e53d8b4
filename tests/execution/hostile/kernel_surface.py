# syscalls an experiment never needs, each a past source of kernel exploits
import ctypes, os, platform
from _common import attempt
libc = ctypes.CDLL(None, use_errno=True)
X86 = platform.machine() == "x86_64"
CALLS = {"keyctl": (250 if X86 else 219, (0, 0, 0, 0)),  # KEYCTL_GET_KEYRING_ID
         "add_key": (248 if X86 else 217, (b"user", b"nr", b"x", 1, -2)),
         "bpf": (321 if X86 else 280, (0, 0, 0)),
         "perf_event_open": (298 if X86 else 241, (0, 0, -1, -1, 0)),
         "userfaultfd": (323 if X86 else 282, (0,)),
         "init_module": (175 if X86 else 105, (0, 0, b"")),
         "reboot": (169 if X86 else 142, (0, 0, 0, 0))}


def call(nr, args):
    def go():
        rc = libc.syscall(nr, *args)
        if rc < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        return rc
    return go


for name, (nr, args) in CALLS.items():
    attempt(name, call(nr, args))
