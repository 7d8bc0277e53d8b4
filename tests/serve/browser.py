"""Headless Chromium over the DevTools protocol, and a uvicorn server in a thread: shared
by the web-page tests (fake service and real service)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

CHROMIUM = "/usr/bin/chromium"


@contextmanager
def serve_app(app):
    """The app under uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound before uvicorn starts: no free-port race
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    th = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    end = time.time() + 20
    while not server.started and time.time() < end:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        th.join(timeout=10)
        sock.close()


class Browser:
    """Headless Chromium with one page, spoken to over CDP (websockets, sync client)."""

    def __init__(self, profile: Path):
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port = self._port(profile / "DevToolsActivePort")
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        from websockets.sync.client import connect
        self._stack = ExitStack()
        self.ws = self._stack.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=64 * 2**20, open_timeout=20))
        self._id = 0

    def _port(self, f: Path) -> int:
        end = time.time() + 60
        while time.time() < end:
            if f.exists() and f.read_text().strip():
                return int(f.read_text().split()[0])
            assert self.proc.poll() is None, "chromium exited during start-up"
            time.sleep(0.1)
        raise AssertionError("chromium did not open its DevTools port within 60 s")

    def cmd(self, method: str, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg["result"]

    def js(self, expr: str):
        res = self.cmd("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise AssertionError(f"JS error in {expr!r}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_js(self, expr: str, timeout: float = 20.0):
        end = time.time() + timeout
        while time.time() < end:
            val = self.js(expr)
            if val:
                return val
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expr!r}; body: {self.js('document.body.innerText')[:800]}")

    def screenshot(self, path: Path, full: bool = False) -> Path:
        params = {"format": "png"}
        if full:
            w, hgt = self.js("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": w, "height": hgt, "scale": 1})
        import base64
        path.write_bytes(base64.b64decode(self.cmd("Page.captureScreenshot", **params)["data"]))
        return path

    def screenshot_element(self, selector: str, path: Path, max_height: int = 4000) -> Path:
        """The whole element (beyond the viewport), at most `max_height` px tall."""
        import base64
        x, y, w, hgt = self.js(f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect(); "
                               "return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })()")
        clip = {"x": x, "y": y, "width": w, "height": min(hgt, max_height), "scale": 1}
        data = self.cmd("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self):
        try:
            self._stack.close()
        finally:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group only
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def _check_png(path: Path, min_bytes: int = 20_000) -> None:
    from PIL import Image, ImageStat
    assert path.stat().st_size > min_bytes, f"screenshot only {path.stat().st_size} bytes"
    img = Image.open(path)
    assert img.format == "PNG" and img.width >= 1000 and img.height >= 700, img.size
    stat = ImageStat.Stat(img.convert("L"))
    assert stat.stddev[0] > 15, f"screenshot looks blank (stddev {stat.stddev[0]:.1f})"
    assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 200


