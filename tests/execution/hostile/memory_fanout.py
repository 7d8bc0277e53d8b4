# each child stays under the per-process limit; together they hold 3x the run's memory
import os, time
N, MB = 6, 300
pids = []
for i in range(N):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            block = bytearray(MB << 20)
            block[::4096] = b"x" * len(block[::4096])  # touch every page
            os.write(w, b"1")
            time.sleep(1)
        finally:
            os._exit(0)
    os.close(w)
    pids.append((pid, r))
held = sum(1 for _, r in pids if os.read(r, 1) == b"1")
print("children holding memory:", held, flush=True)
if held == N:
    print(f"ESCAPED: {N * MB} MB held by {N} processes", flush=True)
for pid, _ in pids:
    os.waitpid(pid, 0)
