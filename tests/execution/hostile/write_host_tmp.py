# /tmp inside is a private tmpfs: the write succeeds there but must not reach the host
from _common import PARAMS
open(f"/tmp/{PARAMS['marker_name']}", "w").write("x")
print("wrote private /tmp marker")
