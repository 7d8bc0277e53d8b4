# other users' memories and projects in the store / data dir
import os
from _common import PARAMS, attempt
store = PARAMS["store_dir"]
attempt("list the store", lambda: os.listdir(store) or (_ for _ in ()).throw(OSError("empty")))
attempt("read another user's memory", lambda: open(os.path.join(store, "memories.jsonl")).read())
attempt("read another project", lambda: open(PARAMS["other_project"]).read())
