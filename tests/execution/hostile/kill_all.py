# kill(-1): every process this uid may signal; only the sandbox's own must be reachable
import os, signal, time
if os.fork() == 0:
    time.sleep(30)
    os._exit(0)
print("kill -1", flush=True)
try:
    os.kill(-1, signal.SIGKILL)
except ProcessLookupError:
    print("nothing to kill")
time.sleep(0.2)
