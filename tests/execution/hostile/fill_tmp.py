import os
n = 0
try:
    with open("/tmp/fill.bin", "wb") as f:
        while True:
            f.write(b"\0" * (1 << 20)); f.flush(); n += 1
except OSError as e:
    print("tmp full after", n, "MB:", e)
    os.remove("/tmp/fill.bin")
