"""A complete in-memory, threaded ProjectService for the API and web tests.

FakeProjectService runs a real (tiny) cycle: a background thread per project walks the
three phases through nanoresearch.workspace.Workspace (real manifests and artifact files),
waits for feedback after each phase exactly as the orchestrator does, and honours cancel
and resume (finished steps are not redone). Only the research content is canned.
"""
from __future__ import annotations

import io
import json
import secrets
import threading
import time
from pathlib import Path

import pytest

from nanoresearch.errors import UserError
from nanoresearch.project_view import ProjectView, load_view
from nanoresearch.types import (AdapterVersion, Feedback, KnowledgeView, MemoryEntry, Phase,
                                ProjectStatus, ProjectStatusReport, ProjectSummary,
                                ResearchTopic, Resources, Review, SkillEntry, SkillStage,
                                StepStatus, UserProfile, new_id)
from nanoresearch.workspace import Workspace
from nanoresearch_app.progress import EventLog, latest_token_rate

PHASES = [Phase.IDEATION, Phase.EXPERIMENT, Phase.WRITING]
STEPS = {
    Phase.IDEATION: [("retrieve", "ideation/plan.json"), ("literature", "ideation/papers.json"),
                     ("hypotheses", "ideation/hypotheses.json")],
    Phase.EXPERIMENT: [("code", "experiment/code/run.py"), ("run", "experiment/metrics.json"),
                       ("analysis", "experiment/figures/accuracy.png")],
    Phase.WRITING: [("draft", "writing/paper.tex"), ("compile", "writing/paper.pdf"),
                    ("review", "writing/reviews/round_1.json")],
}
QUESTIONS = [
    {"id": "name", "question": "Your name?", "type": "text"},
    {"id": "research_field", "question": "Your research field?", "type": "text"},
    {"id": "gpus", "question": "How many GPUs can experiments use?", "type": "int", "default": 0},
    {"id": "target_venue", "question": "Target venue?", "type": "text"},
    {"id": "paper_format", "question": "Paper format?", "type": "choice",
     "choices": ["conference", "journal"]},
    {"id": "methodological_preferences", "question": "Methodological preferences?", "type": "list"},
]
PDF_BYTES = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]"
             b"/Count 1>>endobj 3 0 obj<</Type/Page/MediaBox[0 0 200 200]/Parent 2 0 R>>endobj\n"
             b"trailer<</Root 1 0 R>>\n%%EOF\n")


def _png() -> bytes:
    from PIL import Image, ImageDraw
    img = Image.new("RGB", (64, 48), "white")
    ImageDraw.Draw(img).rectangle([8, 20, 24, 44], fill="navy")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _content(rel: str, topic: ResearchTopic) -> bytes:
    if rel.endswith(".pdf"):
        return PDF_BYTES
    if rel.endswith(".png"):
        return _png()
    if rel == "writing/reviews/round_1.json":  # the name the writing stage writes
        reviews = [Review(reviewer_id="r1", summary="Clear question, small study.", overall=6,
                          strengths=["real baselines"], weaknesses=["one dataset only"]),
                   Review(reviewer_id="r2", summary="Sound but narrow.", overall=5,
                          soundness=6, revision_requests=["add a second dataset"])]
        return json.dumps([r.model_dump(mode="json") for r in reviews]).encode()
    return json.dumps({"artifact": rel, "topic": topic.problem_statement}).encode()


class _Project:
    def __init__(self, pid: str, user: str, topic: ResearchTopic, ws: Workspace):
        self.pid, self.user, self.topic, self.ws = pid, user, topic, ws
        self.status = ProjectStatus.CREATED
        self.phase: Phase | None = None
        self.waiting: Phase | None = None
        self.feedback_for: set[Phase] = set()
        self.cancelled = False
        self.created_at = time.time()
        self.thread: threading.Thread | None = None


class FakeProjectService:
    def __init__(self, root: Path, step_delay: float = 0.0):
        self.root = Path(root)
        self.step_delay = step_delay
        self.hold: dict[str, threading.Event] = {}  # step name -> it starts when set (live tests)
        self.users: dict[str, str] = {}
        self.profiles: dict[str, UserProfile] = {}
        self.projects: dict[str, _Project] = {}
        self.feedback: list[Feedback] = []
        self.cond = threading.Condition()
        self.skills = [SkillEntry(stage=SkillStage.CODING, name="scale features before LR",
                                  trigger="ConvergenceWarning", scope="global")]
        self.memories: list[MemoryEntry] = []
        self.adapters: list[AdapterVersion] = []
        self.rollbacks: list[tuple[str, int | None]] = []

    # ----------------------------------------------------------------- users
    def create_user(self, user_id: str, name: str = "") -> str:
        if user_id in self.users:
            raise UserError(f"user {user_id!r} exists")
        self.users[user_id] = name
        self.skills.append(SkillEntry(stage=SkillStage.WRITING, name=f"{user_id} likes short abstracts",
                                      scope=user_id))
        self.memories.append(MemoryEntry(user_id=user_id, content=f"{user_id} has 0 GPUs",
                                         category="resource_limit"))
        self.adapters.append(AdapterVersion(user_id=user_id, version=1, path=f"/a/{user_id}/1",
                                            checksum="0" * 8, status="published"))
        return "nr_" + secrets.token_urlsafe(24)

    def profile_questions(self) -> list[dict]:
        return [dict(q) for q in QUESTIONS]

    def save_profile(self, user_id: str, answers: dict) -> UserProfile:
        prefs = answers.get("methodological_preferences", [])
        if isinstance(prefs, str):
            prefs = [p.strip() for p in prefs.split(",") if p.strip()]
        prof = UserProfile(user_id=user_id, name=answers.get("name", self.users.get(user_id, "")),
                           research_field=answers.get("research_field", ""),
                           resources=Resources(gpus=int(answers.get("gpus", 0))),
                           target_venue=answers.get("target_venue", ""),
                           paper_format=answers.get("paper_format", "conference"),
                           methodological_preferences=prefs)
        old = self.profiles.get(user_id)
        prof.version = old.version + 1 if old else 1
        self.profiles[user_id] = prof
        return prof

    def get_profile(self, user_id: str) -> UserProfile | None:
        return self.profiles.get(user_id)

    # ----------------------------------------------------------------- projects
    def create_project(self, user_id: str, topic: ResearchTopic) -> str:
        pid = new_id("p-")
        ws = Workspace(self.root / pid)
        ws.write_json("project.json", {"user_id": user_id, "topic": topic.model_dump(mode="json")})
        self.projects[pid] = _Project(pid, user_id, topic, ws)
        self._start(self.projects[pid])
        return pid

    def _start(self, p: _Project) -> None:
        p.cancelled = False
        p.status = ProjectStatus.RUNNING
        p.thread = threading.Thread(target=self._run, args=(p,), daemon=True)
        p.thread.start()

    def _run(self, p: _Project) -> None:
        for phase in PHASES:
            p.phase = phase
            for name, rel in STEPS[phase]:
                if p.cancelled:
                    return
                if p.ws.step_done(phase, name):
                    continue  # resume: a finished step is never redone
                with p.ws.step(phase, name) as arts:
                    if name in self.hold:
                        self.hold[name].wait()
                    time.sleep(self.step_delay)
                    (p.ws.path(rel)).parent.mkdir(parents=True, exist_ok=True)
                    p.ws.path(rel).write_bytes(_content(rel, p.topic))
                    arts.append(rel)
            p.ws.mark_phase(phase, StepStatus.DONE)
            if not self._wait_feedback(p, phase):
                return
        p.status = ProjectStatus.DONE

    def _wait_feedback(self, p: _Project, phase: Phase) -> bool:
        with self.cond:
            p.status, p.waiting = ProjectStatus.WAITING_FEEDBACK, phase
            self.cond.wait_for(lambda: phase in p.feedback_for or p.cancelled)
            p.waiting = None
            if p.cancelled:
                return False
            p.status = ProjectStatus.RUNNING
            return True

    def list_projects(self, user_id: str) -> list[ProjectSummary]:
        return [ProjectSummary(project_id=p.pid, user_id=p.user, status=p.status,
                               title=p.topic.problem_statement, created_at=p.created_at)
                for p in self.projects.values() if p.user == user_id]

    def project_owner(self, project_id: str) -> str | None:
        p = self.projects.get(project_id)
        return p.user if p else None

    def project_status(self, project_id: str) -> ProjectStatusReport:
        p = self.projects[project_id]
        mans = {ph: p.ws.manifest(ph) for ph in PHASES if p.ws.exists(f"{ph.value}/manifest.json")}
        return ProjectStatusReport(
            project_id=project_id, user_id=p.user, status=p.status, phase=p.phase,
            waiting_feedback_for=p.waiting, manifests={ph: m.steps for ph, m in mans.items()},
            phase_status={ph: m.status for ph, m in mans.items()}, topic=p.topic,
            has_pdf=p.ws.exists("writing/paper.pdf"),
            # what the real service shows: the typed events of events.jsonl, tokens/s of the ledger
            events=EventLog(p.ws.path("events.jsonl")).tail() + [r for r in [latest_token_rate(p.ws.path("ledger.jsonl"))] if r])

    def project_view(self, project_id: str) -> ProjectView:
        return load_view(self.projects[project_id].ws.root, project_id)

    def list_artifacts(self, project_id: str) -> list[str]:
        p = self.projects[project_id]
        return [a for ph in PHASES for s in p.ws.manifest(ph).steps for a in s.artifacts]

    def artifact_path(self, project_id: str, rel: str) -> Path:
        return self.projects[project_id].ws.path(rel)  # raises UserError when it escapes

    def submit_feedback(self, feedback: Feedback) -> None:
        p = self.projects[feedback.project_id]
        with self.cond:
            self.feedback.append(feedback)
            p.feedback_for.add(feedback.phase)
            self.cond.notify_all()

    def cancel(self, project_id: str) -> None:
        p = self.projects[project_id]
        with self.cond:
            p.cancelled = True
            p.status = ProjectStatus.CANCELLED
            self.cond.notify_all()
        if p.thread:
            p.thread.join(timeout=5)
        p.status = ProjectStatus.CANCELLED

    def resume(self, project_id: str) -> None:
        p = self.projects[project_id]
        if p.status in (ProjectStatus.CANCELLED, ProjectStatus.FAILED):
            self._start(p)

    # ----------------------------------------------------------------- knowledge
    def search_skills(self, user_id: str, query: str, k: int) -> list[SkillEntry]:
        q = query.lower()
        hits = [s for s in self.skills if s.scope in ("global", user_id) and q in s.name.lower()]
        return hits[:k]

    def search_memories(self, user_id: str, query: str, k: int) -> list[MemoryEntry]:
        q = query.lower()
        return [m for m in self.memories if m.user_id == user_id and q in m.content.lower()][:k]

    def list_adapters(self, user_id: str) -> list[AdapterVersion]:
        return [a for a in self.adapters if a.user_id == user_id]

    def knowledge(self, user_id: str) -> KnowledgeView:
        mine = [m for m in self.memories if m.user_id == user_id]
        return KnowledgeView(
            requirements=[m for m in mine if m.category in ("preference", "resource_limit")],
            memories=[m for m in mine if m.category not in ("preference", "resource_limit")],
            skills=[s for s in self.skills if s.scope == user_id],
            shared_skills=[s for s in self.skills if s.scope == "global"],
            adapters=self.list_adapters(user_id),
            current_adapter=max((a.version for a in self.list_adapters(user_id) if a.status == "published"),
                                default=None))

    def rollback_adapter(self, user_id: str, to_version: int | None) -> int | None:
        served = [a for a in self.list_adapters(user_id) if a.status == "published"]
        if not served:
            raise UserError(f"user {user_id!r} has no published adapter to roll back from")
        self.rollbacks.append((user_id, to_version))
        for a in served:
            a.status = "retired"
        return to_version

    def delete_memory(self, user_id: str, memory_id: str) -> bool:
        before = len(self.memories)
        self.memories = [m for m in self.memories if not (m.id == memory_id and m.user_id == user_id)]
        return len(self.memories) < before

    def delete_skill(self, user_id: str, skill_id: str) -> bool:
        before = len(self.skills)
        self.skills = [s for s in self.skills if not (s.id == skill_id and s.scope == user_id)]
        return len(self.skills) < before

    # ----------------------------------------------------------------- test helper
    def wait_for(self, project_id: str, pred, timeout: float = 10.0) -> dict:
        end = time.time() + timeout
        while time.time() < end:
            st = self.project_status(project_id)
            if pred(st):
                return st
            time.sleep(0.02)
        raise AssertionError(f"timed out; last status {self.project_status(project_id)}")


ADMIN = "admin-token-for-tests-0123456789"


@pytest.fixture()
def service(tmp_path) -> FakeProjectService:
    return FakeProjectService(tmp_path / "projects")


@pytest.fixture()
def app(service, tmp_path):
    from serve.api import create_app
    from serve.auth import ApiOptions, TokenAuth
    return create_app(service, TokenAuth(tmp_path / "api_tokens.json"),
                      ApiOptions(admin_token=ADMIN))


@pytest.fixture()
def client(app):
    from fastapi.testclient import TestClient
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture()
def make_user(client):
    def make(user_id: str) -> dict[str, str]:
        r = client.post("/api/v1/users", json={"user_id": user_id, "name": user_id.title()},
                        headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}
    return make
