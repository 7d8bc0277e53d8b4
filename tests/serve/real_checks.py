"""The checks of the API and the page against a finished project on the real service,
shared by the in-process run (test_real_service.py) and the Ray Serve deployment
(test_real_service_ray.py). `client` is anything with httpx's get/post/delete (FastAPI's
TestClient, or an httpx.Client on the Serve proxy); `root` is the project's workspace."""
from __future__ import annotations

import json
import time
from pathlib import Path

from nanoresearch import artifacts as A
from nanoresearch.progress import parse_event
from tests.serve.browser import Browser, _check_png


def wait_done(client, pid, headers, timeout=1500) -> set[str]:
    """Poll the status route like the page does; returns the statuses seen on the way."""
    seen, end = set(), time.time() + timeout
    while time.time() < end:
        st = client.get(f"/api/v1/projects/{pid}", headers=headers).json()
        seen.add(st["status"])
        if st["status"] not in ("created", "running", "waiting_feedback"):
            assert st["status"] == "done", st
            return seen
        time.sleep(1.0)
    raise AssertionError(f"project {pid} did not finish; last status {st}")


def check_status(client, headers, pid, topic) -> dict:
    st = client.get(f"/api/v1/projects/{pid}", headers=headers).json()
    assert st["kind"] == "project_status_report" and st["user_id"] == "ana"
    assert set(st["phase_status"].values()) == {"done"} and len(st["manifests"]) == 3
    assert st["has_pdf"] is True and st["topic"]["problem_statement"] == topic["problem_statement"]
    kinds = [e["kind"] for e in st["events"]]
    assert "step_started" in kinds and "step_finished" in kinds
    listed = client.get("/api/v1/projects", headers=headers).json()
    assert (pid, "done") in [(p["project_id"], p["status"]) for p in listed]
    return st


def check_view(client, headers, pid, root: Path) -> dict:
    v = client.get(f"/api/v1/projects/{pid}/view", headers=headers).json()
    ide = A.read(root, A.IDEATION)
    assert v["ideation"]["selected_hypothesis_id"] == ide.selected_hypothesis_id
    assert [h["statement"] for h in v["ideation"]["hypotheses"]] == [h.statement for h in ide.hypotheses]
    assert v["ideation"]["papers"] and v["planning"]["blueprint"]["datasets"]
    assert v["planning"]["blueprint"]["seeds"] and v["planning"]["critiques"]
    assert v["code"]["files"] and any(r["status"] == "succeeded" for r in v["runs"])
    assert all(r["duration_s"] > 0 for r in v["runs"])
    assert v["analysis"]["comparisons"] and v["analysis"]["summary"]
    assert v["figures"] and all((root / f["path"]).is_file() and f["path"].endswith(".png") for f in v["figures"])
    assert v["pdf"] == A.PAPER_PDF.path and v["writing"]["draft"]["title"]
    rounds = A.review_rounds(root)
    assert rounds and sorted(map(int, v["review_rounds"])) == sorted(rounds)
    assert v["revision_history"]["rounds"][0]["round"] == 1
    return v


def check_paper_pages(client, headers, pid) -> None:
    n = client.get(f"/api/v1/projects/{pid}/paper/pages", headers=headers).json()["pages"]
    assert n >= 1
    img = client.get(f"/api/v1/projects/{pid}/paper/pages/1", headers=headers)
    assert img.status_code == 200 and img.content[:4] == b"\x89PNG"
    assert client.get(f"/api/v1/projects/{pid}/paper/pages/{n + 1}", headers=headers).status_code == 404


def check_reviews_route(client, headers, pid, root: Path) -> list:
    got = client.get(f"/api/v1/projects/{pid}/reviews", headers=headers).json()
    rounds = A.review_rounds(root)
    assert [(r["round"], r["reviewer_id"]) for r in got] == \
        [(n, r.reviewer_id) for n in sorted(rounds) for r in rounds[n]]
    assert any(r["is_meta"] for r in got)
    return got


def check_served_inert(client, headers, pid, root: Path) -> None:
    base = f"/api/v1/projects/{pid}"
    pdf = client.get(f"{base}/paper", headers=headers)
    assert pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.headers["content-security-policy"].startswith("sandbox")
    # a model-written HTML file in the workspace: listed, but served as an inert attachment
    (root / "experiment" / "code" / "report.html").write_text("<script>fetch('/x?t='+localStorage.nr_token)</script>")
    r = client.get(f"{base}/artifacts/experiment/code/report.html", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.headers["content-disposition"].startswith("attachment")
    page = client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


# ---------------------------------------------------------------------- the competent model
def check_competent_research(client, headers, pid, root: Path, model) -> None:
    """The stand-in answered every agent like a capable model: the hypothesis, blueprint,
    method, analysis, every section and the reviews in the project are its words, and
    the paper's provenance says the model wrote the sections."""
    from tests.serve import competent_answers as C

    routes = model.routes()
    assert routes.get("unrouted", 0) == 0, routes
    for r in ("hypotheses", "novelty", "blueprint", "method_config", "analysis", "outline", "abstract", "review"):
        assert routes.get(r), (r, routes)
    assert routes["section"] == 7
    v = client.get(f"/api/v1/projects/{pid}/view", headers=headers).json()
    ideas = json.loads(C.ideas([], None))
    assert A.read(root, A.IDEATION).selected().statement in [h["statement"] for h in ideas["hypotheses"]]
    assert v["planning"]["blueprint"]["title"] == C.TITLE
    assert v["planning"]["blueprint"]["proposed_method"]["name"] == C.METHOD
    notes = json.loads((root / "experiment" / "code" / "coding_notes.json").read_text())
    assert notes["method_source"] == "llm" and notes["method_family"] == "svm_rbf"
    said = [json.loads(c.answer)["summary"] for c in model.calls if c.route == "analysis"]
    assert v["analysis"]["summary"] == said[-1] and said[-1].startswith(f"On breast_cancer, {C.METHOD} reached")
    prov = v["extras"]["provenance"]["data"]["sections"]
    assert {k for k, src in prov.items() if src == "model"} >= {"introduction", "method", "conclusion", "abstract"}
    assert all("model" in src for src in prov.values()), prov
    tex = (root / "writing" / "paper.tex").read_text() + "".join(
        p.read_text() for p in (root / "writing" / "sections").glob("*.tex"))
    assert "scaling statistics estimated on the training split only" in " ".join(tex.split()).replace("\\", "")
    reviews = client.get(f"/api/v1/projects/{pid}/reviews", headers=headers).json()
    model_summaries = {json.loads(c.answer)["summary"] for c in model.calls if c.route == "review"}
    assert {r["summary"] for r in reviews if not r["is_meta"]} <= model_summaries


def events_of(root: Path) -> list:
    """Every event in events.jsonl, typed: the service's own lines, or the orchestrator
    actor's {kind, time, data} envelopes."""
    out = []
    for raw in map(json.loads, (root / A.EVENTS.path).read_text().splitlines()):
        if isinstance(raw.get("data"), dict) and "time" in raw:
            raw = {**raw["data"], "kind": raw["kind"], "at": raw["time"]}
        ev = parse_event(raw.get("kind", ""), raw)
        if ev is not None:
            out.append(ev)
    return out


def check_progress_events(root: Path) -> list:
    """Literature sources, each model call, the experiment run (started, its output,
    finished) and each LaTeX pass are in events.jsonl, typed."""
    evs = events_of(root)
    kinds = {e.kind for e in evs}
    assert {"literature_searched", "llm_call", "run_started", "run_output", "run_finished", "latex_pass",
            "step_started", "step_finished"} <= kinds, kinds
    fin = [e for e in evs if e.kind == "run_finished"]
    assert fin and fin[-1].status.value == "succeeded" and fin[-1].duration_s > 0
    lit = [e for e in evs if e.kind == "literature_searched" and not e.error]
    assert lit and all(0 <= e.kept <= e.scanned for e in lit) and any(e.kept for e in lit)
    calls = [e for e in evs if e.kind == "llm_call"]
    assert {c.agent for c in calls} >= {"ideation", "planning", "writing", "review"}
    assert all(c.model == "openai:competent" for c in calls)
    return evs


def check_competent_page(url: str, token: str, pid: str, root: Path, shots: Path, profile: Path,
                         prefix: str = "competent") -> None:
    """Chromium: the page shows the model's hypothesis (chosen), its blueprint, the
    results table, a figure, the PDF, the reviews of every round with the model's review
    text, and the sections marked model-written; a screenshot of each stage."""
    from tests.serve import competent_answers as C

    shots.mkdir(parents=True, exist_ok=True)
    chosen = A.read(root, A.IDEATION).selected().statement
    rounds = sorted(A.review_rounds(root))
    b = Browser(profile)
    try:
        b.cmd("Page.navigate", url=f"{url}/#token={token}&project={pid}")
        b.wait_js("!!document.getElementById('reviews') && !!document.getElementById('out-provenance')", timeout=60)
        hyp = b.js("(document.querySelector('#out-hypotheses .hyp.chosen') || {}).innerText || ''")
        assert chosen in " ".join(hyp.split()) and "chosen" in hyp
        assert C.TITLE in b.js("document.getElementById('out-blueprint').innerText")
        results = b.js("document.getElementById('out-results').innerText")
        assert C.METHOD in results and b.js("document.querySelectorAll('#out-results tbody tr').length") > 0
        b.wait_js("[...document.querySelectorAll('#out-figures img')].some(i => i.complete && i.naturalWidth > 100)", timeout=30)
        b.wait_js("[...document.querySelectorAll('#paper-pages img')].some(i => i.complete && i.naturalWidth > 300)", timeout=60)
        folds = b.js("[...document.querySelectorAll('#reviews details.fold > summary')].map(s => s.innerText)")
        assert [f.split(" ·")[0] for f in folds] == [f"Round {n}" for n in rounds]
        b.js("document.querySelectorAll('#reviews details.fold').forEach(d => d.open = true)")
        assert "controlled comparison with an ablation of the scaling step" in b.js("document.getElementById('reviews').innerText")
        assert b.js("document.querySelectorAll('#reviews .review:not(.meta)').length") >= 2 * len(rounds)
        prov = b.js("[...document.querySelectorAll('#out-provenance tbody tr')].map(r => r.innerText.split('\\t').slice(0, 2).join('|'))")
        assert "introduction|model-written" in prov and "method|model-written" in prov, prov
        _check_png(b.screenshot(shots / f"{prefix}_project.png"))
        for phase in ("ideation", "experiment", "writing"):
            shot = b.screenshot_element(f"#stage-{phase}", shots / f"{prefix}_stage_{phase}.png")
            assert shot.stat().st_size > 10_000, shot
    finally:
        b.close()
