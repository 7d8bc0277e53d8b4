# double fork + setsid: the grandchild keeps touching a heartbeat file
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            with open("heartbeat", "a") as f:
                f.write(f"{time.time()}\n")
            time.sleep(0.1)
    os._exit(0)
time.sleep(0.3)
print("parent exits, daemon left behind", flush=True)
