from _common import PARAMS, attempt
name = PARAMS["marker_name"]
for d in ("/", "/usr", "/usr/local", "/etc", "/root", "/var/tmp"):
    attempt(f"write {d}/{name}", lambda: open(f"{d}/{name}", "w").write("x"))
