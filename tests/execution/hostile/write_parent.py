import os
from _common import PARAMS, attempt
name = PARAMS["marker_name"]
attempt("write ../marker", lambda: open(f"../{name}", "w").write("x"))
attempt("write via absolute host work-dir parent", lambda: open(os.path.join(PARAMS["host_parent"], name), "w").write("x"))
attempt("mkdir ../../", lambda: os.mkdir(f"../../{name}"))
