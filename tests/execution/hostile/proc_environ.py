import glob
from _common import PARAMS
n = 0
for p in glob.glob("/proc/[0-9]*/environ"):
    try:
        data = open(p, "rb").read()
    except OSError:
        continue
    n += 1
    if PARAMS["canary_token"].encode() in data or b"sk-fake" in data:
        print(f"ESCAPED: secret in {p}", flush=True)
print("pids visible:", len(glob.glob("/proc/[0-9]*")), "environ readable:", n)
