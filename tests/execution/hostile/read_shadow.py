from _common import attempt
attempt("read /etc/shadow", lambda: open("/etc/shadow").read())
attempt("read /etc/ssh/ssh_host_rsa_key", lambda: open("/etc/ssh/ssh_host_rsa_key").read())
attempt("read /etc/munge/munge.key", lambda: open("/etc/munge/munge.key", "rb").read())
