"""OpenAI-compatible HTTP front of the planner engine (plain FastAPI; Ray-free).

Routes (relative to where the app is mounted; Serve mounts it at /v1, so the stock
`openai` client works with base_url=http://127.0.0.1:8000/v1 and api_key=<token>):
  POST /chat/completions    model "planner" or "planner:<user_id>"; the user may also come
                            from the `X-User-Id` or `serve_multiplexed_model_id` header or
                            the request's `user` field. Project/stage for the call log:
                            `X-Project-Id` / `X-Planner-Stage` headers or `metadata`.
  GET  /models
  GET  /admin/adapters/{user}            versions, current and loaded
  POST /admin/adapters/{user}/publish    {"staged", "parent_version"?, "metrics"?}: publish
                                         a directory of the staging area, load it, then serve it
  POST /admin/adapters/{user}/load       {"version"}: make it current and load it now
  POST /admin/adapters/{user}/unload     evict from memory (reloaded on demand)
  POST /admin/adapters/{user}/rollback   {"to_version"?}
Who may call (`Authorization: Bearer ...`, see serve/auth.py):
- chat: a user's API token, for that user's planner only (403 for another user's), or
  the service token / admin token, for any user (the orchestrator plans for everyone);
  the call lands in that user's SDPO training log, so an open route would let anyone
  poison it;
- admin routes: the admin token only; with none configured they are refused.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from nanoresearch.errors import NanoResearchError, RunFailure, UserError
from nanoresearch.types import new_id
from serve.auth import TokenAuth, hash_token, same_secret
from serve.http_limits import install_limits

log = logging.getLogger(__name__)
MODEL_NAME = "planner"
ROLES = ("system", "user", "assistant")
MAX_MESSAGES, MAX_PROMPT_CHARS = 64, 200_000  # a plan prompt is ~10k characters


class PlannerDenied(Exception):
    """401/403/413 answered in the OpenAI error shape."""

    def __init__(self, status: int, message: str, kind: str):
        super().__init__(status, message, kind)
        self.status, self.message, self.kind = status, message, kind


@dataclass(frozen=True)
class PlannerAuth:
    """The credentials the planner accepts (see the module docstring). The admin token is
    kept as its sha256 only, so the secret itself never travels in a deployment's
    arguments (which Ray Serve stores and shows)."""

    tokens: TokenAuth | None = None  # users' API tokens
    service_token: str | None = None  # the system's own planner client
    admin_hash: str | None = None  # sha256 of $NANORESEARCH_ADMIN_TOKEN

    @classmethod
    def create(cls, tokens: TokenAuth | None = None, service_token: str | None = None,
               admin_token: str | None = None) -> "PlannerAuth":
        return cls(tokens, service_token, hash_token(admin_token) if admin_token else None)

    def is_admin(self, bearer: str | None) -> bool:
        return bool(bearer) and same_secret(self.admin_hash, hash_token(bearer or ""))

    def chat_user(self, bearer: str | None, wanted: str | None) -> str | None:
        """The user whose planner (and training log) this call may use."""
        if not bearer:
            raise PlannerDenied(401, "missing token: send 'Authorization: Bearer <your API "
                                "token>' (the openai client: api_key=<token>)", "unauthorized")
        if same_secret(self.service_token, bearer) or self.is_admin(bearer):
            return wanted
        owner = self.tokens.verify(bearer) if self.tokens is not None else None
        if owner is None:
            raise PlannerDenied(401, "unknown or revoked token", "unauthorized")
        if wanted not in (None, owner):
            raise PlannerDenied(403, f"this token may only use model 'planner:{owner}'", "forbidden")
        return owner

    def check_admin(self, bearer: str | None) -> None:
        if not self.admin_hash:
            raise PlannerDenied(403, "planner admin routes are disabled: set "
                                "NANORESEARCH_ADMIN_TOKEN on the server to enable them", "forbidden")
        if not self.is_admin(bearer):
            raise PlannerDenied(401, "admin token required (Authorization: Bearer "
                                "$NANORESEARCH_ADMIN_TOKEN)", "unauthorized")


def bearer_of(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


class ChatRequest(BaseModel):
    model: str = Field(default=MODEL_NAME, max_length=200)
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = None  # accepted; decoding is greedy
    user: str | None = Field(default=None, max_length=200)
    stream: bool = False
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    # {"type": "json_schema", "json_schema": {"schema": {...}}}: a flat schema guides the reply
    response_format: dict[str, Any] | None = None

    def schema(self) -> dict[str, Any] | None:
        rf = self.response_format or {}
        if rf.get("type") == "json_schema":
            return (rf.get("json_schema") or {}).get("schema")
        return None


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staged: str = Field(description="a directory name inside <adapters_dir>/.staging")
    parent_version: int | None = None
    metrics: dict[str, float] = Field(default_factory=dict)


class VersionRequest(BaseModel):
    version: int | None = None
    to_version: int | None = None


def _text(content: Any) -> str:
    """OpenAI content is a string or a list of parts; only text parts are used."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise UserError("message content must be a string or a list of text parts")


def resolve_user(req: ChatRequest, x_user_id: str | None, multiplexed: str | None) -> str | None:
    if req.model.startswith(MODEL_NAME + ":"):
        return req.model.split(":", 1)[1] or None
    if req.model != MODEL_NAME:
        raise UserError(f"unknown model {req.model!r}; use 'planner' or 'planner:<user_id>'")
    user = x_user_id or multiplexed or req.user
    return user.split("@", 1)[0] if user else None  # multiplexed ids look like "user@v3"


def completion_response(res, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{res.call_id or new_id()}", "object": "chat.completion",
        "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "finish_reason": res.finish_reason,
                     "message": {"role": "assistant", "content": res.text}}],
        "usage": {"prompt_tokens": res.prompt_tokens, "completion_tokens": res.completion_tokens,
                  "total_tokens": res.prompt_tokens + res.completion_tokens},
        "system_fingerprint": res.adapter_version or "base",
    }


def _chat_routes(router: APIRouter, engine, auth: PlannerAuth) -> None:
    @router.post("/chat/completions")
    def chat(req: ChatRequest, request: Request, x_user_id: str | None = Header(default=None),
             x_project_id: str | None = Header(default=None),
             x_planner_stage: str | None = Header(default=None)):
        if req.stream:
            raise UserError("streaming is not supported by the planner; send stream=false")
        # Serve's multiplexing header keeps its underscores, which FastAPI's Header() would not match
        mux = request.headers.get("serve_multiplexed_model_id") or request.headers.get("serve-multiplexed-model-id")
        user = auth.chat_user(bearer_of(request.headers.get("authorization")),
                              resolve_user(req, x_user_id, mux))
        meta = req.metadata or {}
        msgs = [{"role": m.get("role", "user"), "content": _text(m.get("content", ""))} for m in req.messages]
        if any(m["role"] not in ROLES for m in msgs):
            raise UserError(f"message roles must be one of {', '.join(ROLES)}")
        if sum(len(m["content"]) for m in msgs) > MAX_PROMPT_CHARS:
            raise PlannerDenied(413, f"prompt over {MAX_PROMPT_CHARS} characters", "too_large")
        res = engine.generate(msgs, user, req.max_completion_tokens or req.max_tokens or 256,
                              project_id=x_project_id or meta.get("project_id", ""),
                              stage=x_planner_stage or meta.get("stage", ""), schema=req.schema())
        return completion_response(res, req.model)

    @router.get("/models")
    def models():
        return {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "created": 0,
                                            "owned_by": "nanoresearch", "root": engine.model_name}]}


def _admin_routes(router: APIRouter, engine, auth: PlannerAuth) -> None:
    def check(authorization: str | None) -> None:
        auth.check_admin(bearer_of(authorization))

    def state(user: str) -> dict[str, Any]:
        return {"user_id": user, "current": engine.adapters.current_version(user),
                "loaded": engine.active_version(user),
                "versions": [v.model_dump(mode="json") for v in engine.adapters.list(user)]}

    @router.get("/admin/adapters/{user}")
    def show(user: str, authorization: str | None = Header(default=None)):
        check(authorization)
        return state(user)

    @router.post("/admin/adapters/{user}/publish")
    def publish(user: str, body: PublishRequest, authorization: str | None = Header(default=None)):
        check(authorization)
        src = engine.adapters.staged(body.staged)  # one name in the staging area, no symlinks
        rec = engine.adapters.publish(user, src, parent_version=body.parent_version,
                                      base_model=engine.model_name, metrics=body.metrics,
                                      make_current=False)
        try:  # verified by loading it (checksum, weights, shapes) before it is served
            swap_s = engine.load_adapter(user, rec.version)
        except Exception as e:
            engine.adapters.mark_failed(user, rec.version)
            engine.refresh(user)  # back to the current version
            raise RunFailure(f"adapter v{rec.version} did not load, so it was not made "
                             f"current: {type(e).__name__}: {e}") from None
        engine.adapters.set_current(user, rec.version)
        return {**state(user), "swap_s": swap_s}

    @router.post("/admin/adapters/{user}/load")
    def load(user: str, body: VersionRequest, authorization: str | None = Header(default=None)):
        check(authorization)
        if body.version is None:
            raise UserError("send {\"version\": N}")
        engine.adapters.set_current(user, body.version)
        swap_s = engine.load_adapter(user, body.version)
        return {**state(user), "swap_s": swap_s}

    @router.post("/admin/adapters/{user}/unload")
    def unload(user: str, authorization: str | None = Header(default=None)):
        check(authorization)
        engine.unload(user)
        return state(user)

    @router.post("/admin/adapters/{user}/rollback")
    def rollback(user: str, body: VersionRequest, authorization: str | None = Header(default=None)):
        check(authorization)
        engine.adapters.rollback(user, body.to_version)
        engine.refresh(user)
        return state(user)


def create_planner_api(engine, *, prefix: str = "", auth: PlannerAuth | None = None) -> FastAPI:
    """The planner's FastAPI app around a PlannerEngine (or anything with its methods).
    Without `auth` every chat and admin call is refused: there is no open mode."""
    auth = auth or PlannerAuth()
    app = FastAPI(title="nanoresearch planner", version="1")
    router = APIRouter(prefix=prefix)
    _chat_routes(router, engine, auth)
    _admin_routes(router, engine, auth)
    app.include_router(router)
    install_limits(app, max_body_bytes=2 * MAX_PROMPT_CHARS * 4)

    def error(status: int, message: str, kind: str) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind}},
                            headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)

    @app.exception_handler(PlannerDenied)
    async def _denied(_: Request, exc: PlannerDenied):
        return error(exc.status, exc.message, exc.kind)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        e = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in e.get("loc", ()))
        return error(422, f"invalid request - {where}: {e.get('msg', '')}", "invalid_request")

    @app.exception_handler(NanoResearchError)
    async def _errors(_: Request, exc: NanoResearchError):
        status = 400 if isinstance(exc, UserError) else 409 if isinstance(exc, RunFailure) else 500
        return error(status, str(exc), type(exc).__name__)

    return app
