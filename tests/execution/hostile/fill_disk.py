import os
os.makedirs("junk", exist_ok=True)
i = 0
while True:
    with open(f"junk/{i}.bin", "wb") as f:
        f.write(os.urandom(1 << 20))
    i += 1
