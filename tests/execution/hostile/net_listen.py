# a server inside the sandbox must not be reachable from the host
import socket, time
from _common import PARAMS
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", PARAMS["listen_port"])); s.listen(1)
print("listening", flush=True)
time.sleep(2.5)
