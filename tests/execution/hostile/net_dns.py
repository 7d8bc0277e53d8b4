import socket
from _common import attempt
attempt("resolve pypi.org", lambda: socket.getaddrinfo("pypi.org", 443))
attempt("udp to 8.8.8.8:53", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("8.8.8.8", 53)))
