"""The HTTP API and web page of nanoresearch: a plain FastAPI app (no Ray here).

    app = create_app(service, TokenAuth(settings.data_dir / "api_tokens.json"))
    uvicorn.run(app, host="127.0.0.1", port=8000)        # or serve/ray_api.py on Ray Serve

Everything the API knows about research comes through `ProjectService`, which the
composition root (nanoresearch_app/service.py) implements over the orchestrator and the stores.
Routes live in api_users.py and api_projects.py; this module owns the contract, the
error format and the assembly. Every route is a sync `def`, so FastAPI runs service calls
(which may block on Ray) in its thread pool instead of stalling the event loop.

Security layers added here: body-size / JSON-depth / surrogate limits and response
headers (serve/http_limits.py), per-user quotas around the service (serve/quotas.py,
429), the admin routes (serve/api_admin.py), and a 400 instead of a 500 for input that
is nested too deeply for the parsers (RecursionError).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol, runtime_checkable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from nanoresearch.errors import (BudgetExceeded, NanoResearchError, ServiceUnavailable,
                                 UserError)
from nanoresearch.project_view import ProjectView
from nanoresearch.types import (AdapterVersion, Feedback, KnowledgeView, MemoryEntry,
                                ProjectStatusReport, ProjectSummary, ResearchTopic, SkillEntry,
                                UserProfile)
from serve.api_deps import ApiError
from serve.api_models import ErrorBody
from serve.auth import ApiOptions, TokenAuth
from serve.web_security import install_page_headers

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
WEB_DIR = Path(__file__).resolve().parent / "web"


@runtime_checkable
class ProjectService(Protocol):
    """What the API needs from the research system. Implementations must be thread-safe
    (requests arrive on a thread pool) and must scope every `user_id` call to that user."""

    def create_user(self, user_id: str, name: str = "") -> str: ...  # returns an API token
    def profile_questions(self) -> list[dict]: ...  # [{id, question, type, choices?, default?}]
    def save_profile(self, user_id: str, answers: dict) -> UserProfile: ...
    def get_profile(self, user_id: str) -> UserProfile | None: ...
    def create_project(self, user_id: str, topic: ResearchTopic) -> str: ...  # starts the cycle
    def list_projects(self, user_id: str) -> list[ProjectSummary]: ...  # from project.json
    def project_owner(self, project_id: str) -> str | None: ...  # None: no such project
    def project_status(self, project_id: str) -> ProjectStatusReport: ...
    def project_view(self, project_id: str) -> ProjectView: ...  # what each stage produced
    def list_artifacts(self, project_id: str) -> list[str]: ...  # paths relative to the workspace
    def artifact_path(self, project_id: str, rel: str) -> Path: ...  # inside the workspace
    def submit_feedback(self, feedback: Feedback) -> None: ...
    def cancel(self, project_id: str) -> None: ...
    def resume(self, project_id: str) -> None: ...
    def search_skills(self, user_id: str, query: str, k: int) -> list[SkillEntry]: ...
    def search_memories(self, user_id: str, query: str, k: int) -> list[MemoryEntry]: ...
    def list_adapters(self, user_id: str) -> list[AdapterVersion]: ...  # this user's planner LoRA
    def knowledge(self, user_id: str) -> KnowledgeView: ...  # requirements, memories, skills, adapters
    def rollback_adapter(self, user_id: str, to_version: int | None) -> int | None: ...  # served now
    def delete_memory(self, user_id: str, memory_id: str) -> bool: ...  # False: not theirs
    def delete_skill(self, user_id: str, skill_id: str) -> bool: ...  # own skills only


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "too_large",
                 415: "unsupported_media_type", 422: "invalid_request", 429: "quota_exceeded"}


def _error(status: int, code: str, detail: str, errors: list | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(error=code, detail=detail, errors=errors or [])
    headers = {**({"WWW-Authenticate": "Bearer"} if status == 401 else {}), **(headers or {})}
    return JSONResponse(body.model_dump(), status_code=status, headers=headers or None)


def _error_body(status: int, code: str, detail: str) -> dict:
    return ErrorBody(error=code, detail=detail).model_dump()


def _field_errors(exc: RequestValidationError) -> list[dict]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()))
        out.append({"field": loc, "message": e.get("msg", ""), "type": e.get("type", "")})
    return out


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError):
        return _error(exc.status, exc.code, exc.detail, headers=exc.headers)

    @app.exception_handler(RecursionError)
    async def _too_deep(_: Request, exc: RecursionError):
        return _error(400, "bad_request", "input nested too deeply: flatten it")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        errors = _field_errors(exc)
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return _error(422, "invalid_request", f"invalid request - {summary}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, _STATUS_CODES.get(exc.status_code, "http_error"),
                      str(exc.detail))

    @app.exception_handler(UserError)
    async def _user_error(_: Request, exc: UserError):
        return _error(400, "bad_request", str(exc))

    @app.exception_handler(BudgetExceeded)
    async def _budget(_: Request, exc: BudgetExceeded):
        return _error(409, "budget_exceeded", str(exc))

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(_: Request, exc: ServiceUnavailable):
        return _error(503, "service_unavailable", f"{exc}; retry in a moment")

    @app.exception_handler(NanoResearchError)
    async def _failure(_: Request, exc: NanoResearchError):
        log.exception("request failed inside the research system")
        return _error(500, "run_failure", f"{type(exc).__name__}: {exc}")


def _install_web(app: FastAPI) -> None:
    """The single-page UI: index.html at `/`, its JS/CSS under `/static`."""
    if not (WEB_DIR / "index.html").exists():
        log.warning("web page missing at %s; serving the API only", WEB_DIR)
        return

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    install_page_headers(app)  # CSP + nosniff (serve/web_security.py)


def _check_service(service: object) -> None:
    # fail at start-up, naming what is missing, rather than with a 500 on the first request
    wanted = [n for n, v in vars(ProjectService).items() if callable(v) and not n.startswith("_")]
    missing = [n for n in wanted if not callable(getattr(service, n, None))]
    if missing:
        raise TypeError(f"{type(service).__name__} does not implement ProjectService: "
                        f"missing {', '.join(missing)} (see serve/api.py)")


def create_app(service: ProjectService, auth: TokenAuth,
               options: ApiOptions | None = None) -> FastAPI:
    """Build the app. `options` (admin token, open registration) default to the
    environment: NANORESEARCH_ADMIN_TOKEN, NANORESEARCH_OPEN_REGISTRATION."""
    from serve.api_admin import admin_router
    from serve.api_knowledge import knowledge_router
    from serve.api_projects import projects_router
    from serve.api_users import users_router
    from serve.http_limits import install_limits
    from serve.quotas import GuardedService

    _check_service(service)
    options = options or ApiOptions.from_env()
    service = GuardedService(service, options.quotas, options.projects_dir, options.data_dir)
    app = FastAPI(
        title="nanoresearch API",
        version="1.0",
        description=("Personalized research automation: create a research project from a "
                     "topic, follow its three stages (ideation, experiment, writing), download "
                     "artifacts and the paper, and steer each stage with free-form feedback "
                     "that trains your own planner. Authenticate with "
                     "`Authorization: Bearer <token>`."),
        openapi_tags=[
            {"name": "users", "description": "accounts, tokens and the profile questionnaire"},
            {"name": "projects", "description": "research cycles, their artifacts and feedback"},
            {"name": "knowledge", "description": "your skills, memories and planner adapters"},
            {"name": "admin", "description": "users and tokens (admin token only)"},
        ],
        responses={401: {"model": ErrorBody}, 422: {"model": ErrorBody}},
    )
    _install_error_handlers(app)
    app.include_router(users_router(service, auth, options), prefix=API_PREFIX)
    app.include_router(projects_router(service, auth), prefix=API_PREFIX)
    app.include_router(admin_router(service, auth, options), prefix=API_PREFIX)
    max_body = options.quotas.max_body_bytes if options.quotas else None
    install_limits(app, **({"max_body_bytes": max_body} if max_body else {}),
                   error_body=_error_body)
    app.include_router(knowledge_router(service, auth), prefix=API_PREFIX)

    @app.get(f"{API_PREFIX}/health", tags=["users"], summary="Liveness probe (no auth)")
    def health() -> dict:
        return {"status": "ok"}

    _install_web(app)
    return app
