import socket
from _common import attempt
for host, port in (("1.1.1.1", 53), ("8.8.8.8", 80), ("151.101.0.223", 443)):
    attempt(f"connect {host}:{port}", lambda: socket.create_connection((host, port), timeout=2))
