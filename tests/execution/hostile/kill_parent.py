import os, signal, time
from _common import attempt
attempt("kill parent", lambda: os.kill(os.getppid(), signal.SIGKILL) or time.sleep(0.5) or "sent")
attempt("kill pid 1", lambda: os.kill(1, signal.SIGKILL) or time.sleep(0.5) or "sent")
print("still here", flush=True)
