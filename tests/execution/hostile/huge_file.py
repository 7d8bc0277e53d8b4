with open("huge.bin", "wb") as f:
    f.seek(50 * 1024**3)
    f.write(b"x")
print("ESCAPED: wrote a 50 GB sparse file")
