"""Routes for research projects: create (topic JSON or a benchmark task file), list,
status, artifacts and the paper, reviews, cancel/resume, and per-stage feedback.

Every route that takes a project id checks ownership first (api_deps.require_owner).
Downloads are served only for paths the service lists as artifacts, after refusing any
path that could climb out of the workspace; the service's own `artifact_path` check is a
second wall, not the only one.
"""
from __future__ import annotations

import json
import logging
from pathlib import PurePosixPath
from typing import Any, Literal

import yaml
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import FileResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from nanoresearch.project_view import ProjectView
from nanoresearch.types import Feedback, ProjectSummary, ResearchTopic, Review
from serve.api_deps import ApiError, current_user_dep, require_owner
from serve.api_models import (Accepted, ArtifactList, ErrorBody, FeedbackAccepted, FeedbackIn,
                              ProjectCreated, ProjectStatusOut)
from serve.api_status import pick_pdf, typed_status
from serve.auth import TokenAuth
from serve.web_security import artifact_headers

log = logging.getLogger(__name__)

MAX_TASK_FILE = 1_000_000
_ERR = {k: {"model": ErrorBody} for k in (400, 401, 404, 409, 413, 422)}
_UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/ResearchTopic"}},
    "application/x-yaml": {"schema": {"type": "string", "description": "the same, as YAML"}},
}}}


def parse_task_file(raw: bytes) -> ResearchTopic:
    """A benchmark task file (JSON or YAML, ResearchTopic schema) -> ResearchTopic."""
    if not raw.strip():
        raise ApiError(400, "bad_request", "the task file is empty: send its content as the body")
    if len(raw) > MAX_TASK_FILE:
        raise ApiError(413, "too_large", f"task file over {MAX_TASK_FILE} bytes")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise ApiError(400, "bad_request", f"task file is neither JSON nor YAML: {e}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_request", "a task file holds ONE task: a JSON/YAML object "
                       "with problem_statement, domain, datasets, ... (got "
                       f"{type(data).__name__})")
    return validate_topic(data)


def validate_topic(data: dict[str, Any]) -> ResearchTopic:
    try:
        topic = ResearchTopic.model_validate(data)
    except ValidationError as e:
        msgs = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()[:5])
        raise ApiError(422, "invalid_request", f"not a valid research topic - {msgs}") from None
    if not topic.problem_statement.strip():
        raise ApiError(422, "invalid_request", "problem_statement is empty: state the research "
                       "question in one or two sentences")
    return topic


def safe_relpath(rel: str) -> str:
    """Refuse absolute paths, '..', backslashes and NULs before anything touches disk."""
    parts = PurePosixPath(rel).parts
    if (not rel or "\\" in rel or "\x00" in rel or rel.startswith("/")
            or any(p in ("..", ".") for p in parts) or ":" in (parts[0] if parts else "")):
        raise ApiError(400, "bad_request", f"artifact path {rel!r} is not allowed: use a path "
                       "relative to the project workspace, as listed by GET .../artifacts")
    return str(PurePosixPath(*parts))


def projects_router(service: Any, auth: TokenAuth) -> APIRouter:
    r = APIRouter(prefix="/projects", tags=["projects"], responses=_ERR)
    user_dep = current_user_dep(auth)

    def start(user: str, topic: ResearchTopic, request: Request) -> ProjectCreated:
        pid = service.create_project(user, topic)
        log.info("user %s created project %s", user, pid)
        return ProjectCreated(project_id=pid, status_url=str(request.url_for("status", project_id=pid)))

    @r.post("", status_code=201, response_model=ProjectCreated,
            summary="Start a research cycle from a topic (ResearchTopic JSON)")
    def create(request: Request, topic: ResearchTopic = Body(..., examples=[{
            "problem_statement": "Does label smoothing help small CNNs on Fashion-MNIST?",
            "domain": "cv", "datasets": ["fashion_mnist"]}]),
            user: str = Depends(user_dep)) -> ProjectCreated:
        return start(user, validate_topic(topic.model_dump()), request)

    @r.post("/upload", status_code=201, response_model=ProjectCreated, openapi_extra=_UPLOAD_BODY,
            summary="Start a research cycle from a benchmark task file (raw JSON or YAML body)")
    async def upload(request: Request, user: str = Depends(user_dep)) -> ProjectCreated:
        topic = parse_task_file(await request.body())
        return await run_in_threadpool(start, user, topic, request)

    @r.get("", response_model=list[ProjectSummary], summary="Your projects")
    def list_projects(user: str = Depends(user_dep)) -> list[ProjectSummary]:
        return [p for p in service.list_projects(user) if p.user_id == user]

    @r.get("/{project_id}", name="status", response_model=ProjectStatusOut,
           summary="Status, stage manifests, progress events and what feedback is awaited")
    def status(project_id: str, user: str = Depends(user_dep)) -> ProjectStatusOut:
        require_owner(service, project_id, user)
        return typed_status(service, project_id)

    @r.get("/{project_id}/view", response_model=ProjectView,
           summary="What each stage produced: question, papers, hypotheses, blueprint, code, "
                   "runs, results, figures, paper and reviews (absent parts are null/empty)")
    def view(project_id: str, user: str = Depends(user_dep)) -> ProjectView:
        require_owner(service, project_id, user)
        return service.project_view(project_id)

    _artifact_routes(r, service, user_dep)
    _control_routes(r, service, user_dep)
    return r


def _artifact_routes(r: APIRouter, service: Any, user_dep) -> None:
    @r.get("/{project_id}/artifacts", response_model=ArtifactList, summary="List artifacts")
    def artifacts(project_id: str, user: str = Depends(user_dep)) -> ArtifactList:
        require_owner(service, project_id, user)
        return ArtifactList(project_id=project_id, artifacts=sorted(service.list_artifacts(project_id)))

    def serve_file(project_id: str, rel: str) -> FileResponse:
        rel = safe_relpath(rel)
        if rel not in set(service.list_artifacts(project_id)):
            raise ApiError(404, "not_found", f"no artifact {rel!r} in project {project_id!r}")
        path = service.artifact_path(project_id, rel)
        if not path.is_file():
            raise ApiError(404, "not_found", f"artifact {rel!r} is listed but not on disk yet")
        media, headers = artifact_headers(path.name)
        return FileResponse(path, media_type=media, headers=headers)

    @r.get("/{project_id}/artifacts/{rel:path}", response_class=FileResponse,
           summary="Download one artifact")
    def artifact(project_id: str, rel: str, user: str = Depends(user_dep)) -> FileResponse:
        require_owner(service, project_id, user)
        return serve_file(project_id, rel)

    @r.get("/{project_id}/paper", response_class=FileResponse, summary="Download the paper PDF")
    def paper(project_id: str, user: str = Depends(user_dep)) -> FileResponse:
        require_owner(service, project_id, user)
        rel = pick_pdf(service.list_artifacts(project_id))
        if rel is None:
            raise ApiError(404, "not_found", "no PDF yet: the writing stage has not compiled "
                           "the paper (see GET /api/v1/projects/{id} for progress)")
        return serve_file(project_id, rel)

    def pages(project_id: str) -> list:
        from serve.paper_pages import render_pages
        rel = pick_pdf(service.list_artifacts(project_id))
        if rel is None:
            raise ApiError(404, "not_found", "no PDF yet: the writing stage has not compiled the paper")
        return render_pages(service.artifact_path(project_id, rel))

    @r.get("/{project_id}/paper/pages", summary="How many page images the paper has")
    def page_count(project_id: str, user: str = Depends(user_dep)) -> dict[str, int]:
        require_owner(service, project_id, user)
        return {"pages": len(pages(project_id))}

    @r.get("/{project_id}/paper/pages/{n}", response_class=FileResponse,
           summary="Page n (1-based) of the paper as a PNG image")
    def page_image(project_id: str, n: int, user: str = Depends(user_dep)) -> FileResponse:
        require_owner(service, project_id, user)
        got = pages(project_id)
        if not 1 <= n <= len(got):
            raise ApiError(404, "not_found", f"the paper has {len(got)} page(s); ask for 1..{len(got)}")
        media, headers = artifact_headers(got[n - 1].name)
        return FileResponse(got[n - 1], media_type=media, headers=headers)

    @r.get("/{project_id}/reviews", response_model=list[Review],
           summary="The automated reviews of the paper, every round (writing/reviews/round_<n>.json)")
    def reviews(project_id: str, user: str = Depends(user_dep)) -> list[Review]:
        require_owner(service, project_id, user)
        rounds = service.project_view(project_id).review_rounds
        if not rounds:
            raise ApiError(404, "not_found", "no reviews yet: they appear after the writing stage")
        return [rv for n in sorted(rounds) for rv in rounds[n]]


def _control_routes(r: APIRouter, service: Any, user_dep) -> None:
    @r.post("/{project_id}/cancel", status_code=202, response_model=Accepted,
            summary="Stop the cycle (state is kept; resume later)")
    def cancel(project_id: str, user: str = Depends(user_dep)) -> Accepted:
        require_owner(service, project_id, user)
        service.cancel(project_id)
        return Accepted(project_id=project_id, action="cancel",
                        status=typed_status(service, project_id).status.value)

    @r.post("/{project_id}/resume", status_code=202, response_model=Accepted,
            summary="Continue from the last finished step")
    def resume(project_id: str, user: str = Depends(user_dep)) -> Accepted:
        require_owner(service, project_id, user)
        service.resume(project_id)
        return Accepted(project_id=project_id, action="resume",
                        status=typed_status(service, project_id).status.value)

    @r.post("/{project_id}/feedback", status_code=201, response_model=FeedbackAccepted,
            summary="Free-form feedback on one stage (trains your planner)")
    def feedback(project_id: str, body: FeedbackIn, user: str = Depends(user_dep),
                 source: Literal["http", "web"] = "http") -> FeedbackAccepted:
        require_owner(service, project_id, user)
        fb = Feedback(user_id=user, project_id=project_id, phase=body.phase,
                      text=body.text.strip(), source=source)
        if not fb.text:
            raise ApiError(422, "invalid_request", "feedback text is blank: say what to change")
        service.submit_feedback(fb)
        return FeedbackAccepted(feedback_id=fb.feedback_id, project_id=project_id, phase=fb.phase)


__all__ = ["projects_router", "parse_task_file", "safe_relpath"]
