# Ray's GCS / dashboard on the host's loopback: a client there can call the store actor
import socket
from _common import PARAMS, attempt
for port in PARAMS["cluster_ports"]:
    attempt(f"connect to 127.0.0.1:{port}",
            lambda p=port: socket.create_connection(("127.0.0.1", p), timeout=2).send(b"x"))
