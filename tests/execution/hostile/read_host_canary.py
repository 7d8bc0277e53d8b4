from _common import PARAMS, attempt
attempt("read the host canary", lambda: open(PARAMS["canary_file"]).read())
attempt("read the work dir's parent", lambda: open("../" + PARAMS["sibling_name"]).read())
