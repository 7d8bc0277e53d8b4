import threading, time
n = 0
try:
    while True:
        threading.Thread(target=time.sleep, args=(100,), daemon=True).start(); n += 1
except RuntimeError as e:
    print("thread refused after", n, e, flush=True)
    raise SystemExit(3)
