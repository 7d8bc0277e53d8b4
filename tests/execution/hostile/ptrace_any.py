# tracing another process (even our own child) reads and rewrites its memory
import ctypes, os, time
from _common import attempt
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_TRACEME, PTRACE_ATTACH = 0, 16


def call(req, pid):
    def go():
        if libc.ptrace(req, pid, None, None) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        return f"ptrace({req}, {pid}) ok"
    return go


child = os.fork()
if child == 0:
    time.sleep(5)
    os._exit(0)
attempt("ptrace attach to own child", call(PTRACE_ATTACH, child))
attempt("ptrace attach to parent", call(PTRACE_ATTACH, os.getppid()))


def vm_readv():
    buf = ctypes.create_string_buffer(8)
    iov = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 8)
    remote = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 8)  # same layout after fork
    nr = 310 if os.uname().machine == "x86_64" else 270
    if libc.syscall(nr, child, iov, 1, remote, 1, 0) < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return "read the child's memory"
attempt("process_vm_readv on own child", vm_readv)
os.kill(child, 9)
