import socket
from _common import PARAMS, attempt
attempt("connect to the host's 127.0.0.1 service",
        lambda: socket.create_connection(("127.0.0.1", PARAMS["host_port"]), timeout=2).send(b"HELLO"))
