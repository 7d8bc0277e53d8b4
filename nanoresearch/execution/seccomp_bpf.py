"""A seccomp filter for experiments, built as a raw BPF program (standard library only).

bubblewrap loads it with `--seccomp FD` just before it execs the program, so the
sandbox's own setup is unaffected. The filter answers EPERM to syscalls an experiment
never needs and that widen the attack surface (tracing, mounting, namespaces, keyrings,
BPF, kernel modules, perf), refuses `clone` with any namespace flag (a nested user
namespace would give uid 0 inside), answers ENOSYS to `clone3` (its flags sit in memory a
filter cannot read; glibc then falls back to `clone`), and kills a process that uses
another architecture's syscall table (x32 / i386 on x86_64), which would bypass the
numbers below. Everything else is allowed: numpy, torch and sklearn run unchanged.

Shipped next to job_entry.py on Ray / SLURM nodes, so it imports nothing outside the
standard library.
"""
from __future__ import annotations

import platform
import struct

# struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6]
_OFF_NR, _OFF_ARCH, _OFF_ARG0_LO = 0, 4, 16
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW, RET_KILL_PROCESS = 0x7FFF0000, 0x80000000
EPERM, ENOSYS = 1, 38
X32_BIT = 0x40000000
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (NEWTIME = 0x80
# overlaps the exit-signal byte of clone and is only reachable through unshare/clone3)
CLONE_NS_FLAGS = 0x7E020000

# name -> (x86_64, aarch64); numbers >= 424 are the same on every architecture
BLOCKED = {
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41), "chroot": (161, 51),
    "unshare": (272, 97), "setns": (308, 268),
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218),
    "bpf": (321, 280), "perf_event_open": (298, 241), "userfaultfd": (323, 282),
    "kexec_load": (246, 104), "kexec_file_load": (320, 294), "init_module": (175, 105),
    "finit_module": (313, 273), "delete_module": (176, 106), "reboot": (169, 142),
    "swapon": (167, 224), "swapoff": (168, 225), "acct": (163, 89), "quotactl": (179, 60),
    "open_by_handle_at": (304, 265), "name_to_handle_at": (303, 264),
    "open_tree": (428, 428), "move_mount": (429, 429), "fsopen": (430, 430),
    "fsconfig": (431, 431), "fsmount": (432, 432), "fspick": (433, 433),
    "mount_setattr": (442, 442), "iopl": (172, None), "ioperm": (173, None),
}
CLONE = {"x86_64": 56, "aarch64": 220}
CLONE3 = 435
ARCHES = {"x86_64": (0xC000003E, 0), "aarch64": (0xC00000B7, 1)}  # AUDIT_ARCH_*, column


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def _errno(n: int) -> int:
    return 0x00050000 | n


def blocked_numbers(machine: str) -> dict[str, int]:
    col = ARCHES[machine][1]
    return {name: nums[col] for name, nums in BLOCKED.items() if nums[col] is not None}


def build_filter(machine: str | None = None) -> bytes:
    """The filter as the bytes of a `struct sock_filter` array (what bwrap --seccomp reads).
    Raises ValueError on an architecture without a syscall table here."""
    machine = machine or platform.machine()
    if machine not in ARCHES:
        raise ValueError(f"no seccomp syscall table for {machine}; supported: {', '.join(ARCHES)}")
    audit_arch = ARCHES[machine][0]
    nums = sorted(set(blocked_numbers(machine).values()))
    prog = [_insn(_LD_W_ABS, 0, 0, _OFF_ARCH),
            _insn(_JEQ_K, 1, 0, audit_arch),
            _insn(_RET_K, 0, 0, RET_KILL_PROCESS),
            _insn(_LD_W_ABS, 0, 0, _OFF_NR)]
    if machine == "x86_64":  # x32 numbers carry bit 30 and share this arch value
        prog += [_insn(_JGE_K, 0, 1, X32_BIT), _insn(_RET_K, 0, 0, RET_KILL_PROCESS)]
    for nr in nums:
        prog += [_insn(_JEQ_K, 0, 1, nr), _insn(_RET_K, 0, 0, _errno(EPERM))]
    prog += [_insn(_JEQ_K, 0, 1, CLONE3), _insn(_RET_K, 0, 0, _errno(ENOSYS))]
    # clone: refuse namespace flags, allow plain fork / threads
    prog += [_insn(_JEQ_K, 0, 4, CLONE[machine]),
             _insn(_LD_W_ABS, 0, 0, _OFF_ARG0_LO),
             _insn(_JSET_K, 0, 1, CLONE_NS_FLAGS),
             _insn(_RET_K, 0, 0, _errno(EPERM)),
             _insn(_RET_K, 0, 0, RET_ALLOW),
             _insn(_RET_K, 0, 0, RET_ALLOW)]
    return b"".join(prog)
