from _common import attempt
attempt("list /root", lambda: [x for x in __import__("os").listdir("/root") if x != ".pyenv"] or 1 / 0)
attempt("read /root/.bashrc", lambda: open("/root/.bashrc").read())
attempt("read /root/.pyenv/version", lambda: open("/root/.pyenv/version").read())
