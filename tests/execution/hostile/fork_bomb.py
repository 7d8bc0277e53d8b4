import os, time
children = 0
while True:
    try:
        if os.fork() == 0:
            while True:
                time.sleep(1)
        children += 1
    except OSError as e:
        print("fork refused after", children, e, flush=True)
        time.sleep(0.05)
