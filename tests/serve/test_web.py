"""The web page in headless Chromium, driven over the DevTools protocol.

The app runs under uvicorn on 127.0.0.1 in a thread, over the threaded fake service; the
browser signs in through a `#token=` link, renders a project's timeline, sends stage
feedback through the page's own form, and a screenshot is checked for real content. Set
NR_WEB_SCREENSHOT_DIR to keep the screenshots (to look at them).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from nanoresearch.types import Feedback, Phase, ResearchTopic
from tests.serve.browser import CHROMIUM, Browser, _check_png, serve_app
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="Debian chromium not installed at /usr/bin/chromium "
                                        "(apt-get install chromium)")]


@pytest.fixture()
def live(app, service):
    with serve_app(app) as url:
        yield url


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
    # the planner adapter's versions, and undoing the served one
    adapters = browser.js("document.getElementById('adapter-list').textContent")
    assert "v1 (served to you)" in adapters and "first update" in adapters
    browser.js("""(() => { window.confirm = () => true;
        [...document.querySelectorAll('#adapter-list button')].find(b => b.textContent.startsWith('undo v1')).click(); })()""")
    end = time.time() + 10
    while not service.rollbacks and time.time() < end:
        time.sleep(0.05)
    assert service.rollbacks == [("alice", None)]
    browser.wait_js("document.getElementById('knowledge-results').textContent.includes('(base model served)')")
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


def test_live_panel_follows_a_running_experiment(live, service, make_user, browser, tmp_path, monkeypatch):
    """A researcher watching a project run: the page's live panel shows the step running
    now, the tokens/s of the newest generation and the experiment's own output while it
    runs, then how the run ended. The events come from the real producers (a sandbox-less
    run of a real program in the project's workspace, a ledger line) through the real
    tail and event log."""
    import threading

    from actors.progress import LedgerTail
    from nanoresearch.execution.base import Limits
    from nanoresearch.execution.local import LocalExecutor
    from nanoresearch.types import LedgerEntry
    from nanoresearch_app.progress import EventLog
    from tests.serve.test_progress_events import PROGRAM

    monkeypatch.setattr("nanoresearch.execution.live.OUTPUT_EVERY_S", 0.2)
    token = make_user("alice")["Authorization"].split()[1]
    gate = service.hold["run"] = threading.Event()  # the experiment's run step stays in progress
    pid = service.create_project("alice", ResearchTopic(problem_statement="Does scaling help k-NN on wine?",
                                                        domain="tabular", datasets=["wine"]))
    service.wait_for(pid, lambda s: s.waiting_feedback_for == Phase.IDEATION)
    service.submit_feedback(Feedback(user_id="alice", project_id=pid, phase=Phase.IDEATION, text="go", source="cli"))
    service.wait_for(pid, lambda s: any(x.name == "run" and x.status.value == "running"
                                        for x in s.manifests.get(Phase.EXPERIMENT, [])))
    ws = service.projects[pid].ws
    tail = LedgerTail(ws.path("ledger.jsonl"), EventLog(ws.path("events.jsonl")).on_event, poll_s=0.1).start()
    code = ws.path("experiment", "code")
    code.mkdir(parents=True, exist_ok=True)
    (code / "run.py").write_text(PROGRAM)
    run = threading.Thread(target=lambda: LocalExecutor(Limits(timeout_s=120)).run(code, "run.py"))
    try:
        with ws.path("ledger.jsonl").open("a") as f:  # a model call, as the Ledger appends it
            f.write(LedgerEntry(agent="debugging", provider="embedded", model="smollm2", prompt_tokens=400,
                                completion_tokens=90, latency_s=3.0).model_dump_json() + "\n")
        browser.cmd("Page.navigate", url=f"{live}/#token={token}&project={pid}")
        browser.wait_js("(document.getElementById('live-step') || {}).innerText?.includes('experiment · run')", timeout=60)
        run.start()
        browser.wait_js("(document.getElementById('live-tail-stdout') || {}).innerText?.includes('epoch 1')", timeout=60)
        assert "experiment running: attempt 1" in browser.js("document.getElementById('live-run').innerText")
        assert "experiment · run for" in browser.js("document.getElementById('live-step').innerText")
        assert browser.js("document.getElementById('live-rate').innerText").startswith("30 tokens/s · debugging")
        assert "warming up" in browser.js("document.getElementById('live-tail-stderr').innerText")
        assert "debugging: 90 tokens in 3.0 s · 30 tokens/s" in browser.js("document.getElementById('live-events').innerText")
        shots = Path(os.environ.get("NR_WEB_SCREENSHOT_DIR", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        _check_png(browser.screenshot(shots / "web_live_run.png"))
        (code / "go").write_text("")
        run.join(timeout=60)
        browser.wait_js("(document.getElementById('live-run') || {}).innerText?.includes('last run: attempt 1 succeeded')", timeout=30)
        assert "epoch 2" in browser.js("document.getElementById('live-tail-stdout').innerText")
    finally:
        (code / "go").write_text("")
        gate.set()
        tail.stop()
