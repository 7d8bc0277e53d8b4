# millions of empty files use no bytes but exhaust the filesystem's inodes
import os
os.makedirs("many", exist_ok=True)
n = 0
while True:
    for _ in range(1000):
        open(f"many/f{n}", "w").close()
        n += 1
    if n % 50000 == 0:
        print("created", n, flush=True)
