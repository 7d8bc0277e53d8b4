# `leak` was planted in the work dir by an earlier run, pointing at a host file
from _common import attempt
attempt("read through a planted link", lambda: open("leak").read())
attempt("read through a planted dir link", lambda: open("leakdir/canary_secret.txt").read())
