import glob, os
from _common import attempt
for p in ["/root/.ssh/id_rsa", "/root/.ssh/authorized_keys", os.path.expanduser("~/.ssh/id_rsa")] + glob.glob("/home/*/.ssh/*"):
    attempt(f"read {p}", lambda: open(p).read())
