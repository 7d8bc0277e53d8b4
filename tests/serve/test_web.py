"""The web page in headless Chromium, driven over the DevTools protocol.

The app runs under uvicorn on 127.0.0.1 in a thread, over the threaded fake service; the
browser signs in through a `#token=` link, renders a project's timeline, sends stage
feedback through the page's own form, and a screenshot is checked for real content. Set
NR_WEB_SCREENSHOT_DIR to keep the screenshots (to look at them).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from nanoresearch.types import Feedback, Phase, ResearchTopic

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="Debian chromium not installed at /usr/bin/chromium "
                                        "(apt-get install chromium)")]


@pytest.fixture()
def live(app, service):
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
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
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

    def close(self):
        try:
            self._stack.close()
        finally:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group only
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture()
def browser(tmp_path):
    b = Browser(tmp_path / "chromium-profile")
    yield b
    b.close()


def _project_waiting_on_writing(service, user: str) -> str:
    topic = ResearchTopic(problem_statement="Does label smoothing help small CNNs on Fashion-MNIST?",
                          domain="cv", datasets=["fashion_mnist"],
                          background="Label smoothing regularises over-confident classifiers.")
    pid = service.create_project(user, topic)
    for phase in (Phase.IDEATION, Phase.EXPERIMENT):
        service.wait_for(pid, lambda s, p=phase: s.waiting_feedback_for == p)
        service.submit_feedback(Feedback(user_id=user, project_id=pid, phase=phase, text="fine", source="cli"))
    service.wait_for(pid, lambda s: s.waiting_feedback_for == Phase.WRITING)
    return pid


def _check_png(path: Path, min_bytes: int = 20_000) -> None:
    from PIL import Image, ImageStat
    assert path.stat().st_size > min_bytes, f"screenshot only {path.stat().st_size} bytes"
    img = Image.open(path)
    assert img.format == "PNG" and img.width >= 1000 and img.height >= 700, img.size
    stat = ImageStat.Stat(img.convert("L"))
    assert stat.stddev[0] > 15, f"screenshot looks blank (stddev {stat.stddev[0]:.1f})"
    assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 200


def test_page_shows_timeline_reviews_and_sends_feedback(live, service, make_user, browser, tmp_path):
    token = make_user("alice")["Authorization"].split()[1]
    bob_token = make_user("bob")["Authorization"].split()[1]
    pid = _project_waiting_on_writing(service, "alice")
    service.create_project("bob", ResearchTopic(problem_statement="Bob's secret topic"))

    browser.cmd("Page.enable")
    browser.cmd("Page.navigate", url=f"{live}/#token={token}&project={pid}")
    browser.wait_js("document.querySelectorAll('#timeline .stage').length === 3 && !!document.getElementById('reviews')")
    assert "token" not in browser.js("location.href")  # the token left the address bar
    assert browser.js("localStorage.getItem('nr_token')") == token
    assert browser.js("document.getElementById('whoami-name').textContent") == "alice"

    text = browser.js("document.body.innerText")
    for needle in ["Stage I · Ideation", "Stage II · Experiment", "Stage III · Writing", "Literature",
                   "Does label smoothing help", "Waiting for your feedback", "Reviews", "one dataset only"]:
        assert needle.lower() in text.lower(), needle
    assert "Bob's secret topic" not in text and bob_token not in text
    browser.wait_js("document.querySelectorAll('#requirement-list .k-item').length > 0")
    assert browser.js("document.getElementById('requirement-list').innerText").startswith("alice has 0 GPUs")
    skills = browser.js("document.getElementById('skill-list').textContent")
    assert "alice likes short abstracts" in skills and "bob" not in skills
    assert "scale features before LR" in browser.js("document.getElementById('shared-skill-list').textContent")
    assert browser.js("document.querySelectorAll('#project-list .project-item').length") == 1
    hrefs = browser.js("[...document.querySelectorAll('a.artifact-link')].map(a => a.getAttribute('href'))")
    assert f"/api/v1/projects/{pid}/artifacts/writing/paper.pdf" in hrefs
    assert f"/api/v1/projects/{pid}/artifacts/experiment/figures/accuracy.png" in hrefs
    # the PDF is shown inline from a blob the page typed itself, after checking its magic bytes
    browser.wait_js("(document.getElementById('pdf-viewer') || {}).src?.startsWith('blob:')")
    boxes = browser.js("[...document.querySelectorAll('form.feedback')].map(f => [f.dataset.phase, f.classList.contains('waiting')])")
    assert boxes == [["ideation", False], ["experiment", False], ["writing", True]]

    shots = Path(os.environ.get("NR_WEB_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    _check_png(browser.screenshot(shots / "web_project.png"))
    browser.screenshot(shots / "web_project_full.png", full=True)

    # the page's own feedback form posts to the API and the cycle moves on
    browser.js("""(() => { const t = document.getElementById('feedback-writing');
        t.value = 'Tighten the abstract and add a calibration plot.'; t.dispatchEvent(new Event('input'));
        document.querySelector('form.feedback[data-phase=writing] button[type=submit]').click(); })()""")
    end = time.time() + 10
    while not any(f.source == "web" for f in service.feedback) and time.time() < end:
        time.sleep(0.05)
    web_fb = [f for f in service.feedback if f.source == "web"]
    assert len(web_fb) == 1 and web_fb[0].phase == Phase.WRITING and web_fb[0].user_id == "alice"
    assert web_fb[0].text == "Tighten the abstract and add a calibration plot."
    browser.wait_js("document.querySelector('.project-head .pill').textContent.trim() === 'done'", timeout=15)
    assert "waiting-banner" not in browser.js("document.body.innerHTML")


def test_page_rejects_a_bad_token(live, browser):
    browser.cmd("Page.navigate", url=f"{live}/#token=nr_this-is-not-a-valid-token")
    msg = browser.wait_js("((document.getElementById('notice') || {}).textContent || '')")
    assert "Sign-in failed" in msg and "unknown or revoked token" in msg
    assert browser.js("localStorage.getItem('nr_token')") is None
    assert browser.js("getComputedStyle(document.getElementById('token-form')).display") != "none"


def test_cli_screenshot_of_the_landing_page(live, tmp_path):
    """The plain `chromium --screenshot` path (no CDP) renders the page too."""
    shots = Path(os.environ.get("NR_WEB_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    png = shots / "web_landing.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'prof'}", f"--screenshot={png}", "--window-size=1280,900",
                    "--virtual-time-budget=3000", f"{live}/"], check=True, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _check_png(png, min_bytes=10_000)
    shutil.rmtree(tmp_path / "prof", ignore_errors=True)
