"""OpenAI-compatible HTTP front of the planner engine (plain FastAPI; Ray-free).

Routes (relative to where the app is mounted; Serve mounts it at /v1, so the stock
`openai` client works with base_url=http://127.0.0.1:8000/v1):
  POST /chat/completions    model "planner" or "planner:<user_id>"; the user may also come
                            from the `X-User-Id` or `serve_multiplexed_model_id` header or
                            the request's `user` field. Project/stage for the call log:
                            `X-Project-Id` / `X-Planner-Stage` headers or `metadata`.
  GET  /models
  GET  /admin/adapters/{user}            versions, current and loaded
  POST /admin/adapters/{user}/publish    {"path", "parent_version"?, "metrics"?}: publish + preload
  POST /admin/adapters/{user}/load       {"version"}: make it current and load it now
  POST /admin/adapters/{user}/unload     evict from memory (reloaded on demand)
  POST /admin/adapters/{user}/rollback   {"to_version"?}
Admin routes require `Authorization: Bearer <admin_token>` when a token is configured.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from nanoresearch.errors import NanoResearchError, RunFailure, UserError
from nanoresearch.types import new_id

log = logging.getLogger(__name__)
MODEL_NAME = "planner"


class ChatRequest(BaseModel):
    model: str = MODEL_NAME
    messages: list[dict[str, Any]]
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = None  # accepted; decoding is greedy
    user: str | None = None
    stream: bool = False
    metadata: dict[str, str] | None = None
    # {"type": "json_schema", "json_schema": {"schema": {...}}}: a flat schema guides the reply
    response_format: dict[str, Any] | None = None

    def schema(self) -> dict[str, Any] | None:
        rf = self.response_format or {}
        if rf.get("type") == "json_schema":
            return (rf.get("json_schema") or {}).get("schema")
        return None


class PublishRequest(BaseModel):
    path: str
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


def _chat_routes(router: APIRouter, engine) -> None:
    @router.post("/chat/completions")
    def chat(req: ChatRequest, request: Request, x_user_id: str | None = Header(default=None),
             x_project_id: str | None = Header(default=None),
             x_planner_stage: str | None = Header(default=None)):
        if req.stream:
            raise UserError("streaming is not supported by the planner; send stream=false")
        # Serve's multiplexing header keeps its underscores, which FastAPI's Header() would not match
        mux = request.headers.get("serve_multiplexed_model_id") or request.headers.get("serve-multiplexed-model-id")
        user = resolve_user(req, x_user_id, mux)
        meta = req.metadata or {}
        msgs = [{"role": m.get("role", "user"), "content": _text(m.get("content", ""))} for m in req.messages]
        res = engine.generate(msgs, user, req.max_completion_tokens or req.max_tokens or 256,
                              project_id=x_project_id or meta.get("project_id", ""),
                              stage=x_planner_stage or meta.get("stage", ""), schema=req.schema())
        return completion_response(res, req.model)

    @router.get("/models")
    def models():
        return {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "created": 0,
                                            "owned_by": "nanoresearch", "root": engine.model_name}]}


def _admin_routes(router: APIRouter, engine, admin_token: str | None) -> None:
    def check(authorization: str | None) -> None:
        if admin_token and authorization != f"Bearer {admin_token}":
            raise HTTPException(status_code=401, detail="admin token required (Authorization: Bearer ...)")

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
        rec = engine.adapters.publish(user, body.path, parent_version=body.parent_version,
                                      base_model=engine.model_name, metrics=body.metrics)
        swap_s = engine.load_adapter(user, rec.version)
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


def create_planner_api(engine, *, prefix: str = "", admin_token: str | None = None) -> FastAPI:
    """The planner's FastAPI app around a PlannerEngine (or anything with its methods)."""
    app = FastAPI(title="nanoresearch planner", version="1")
    router = APIRouter(prefix=prefix)
    _chat_routes(router, engine)
    _admin_routes(router, engine, admin_token)
    app.include_router(router)

    @app.exception_handler(NanoResearchError)
    async def _errors(_: Request, exc: NanoResearchError):
        status = 400 if isinstance(exc, UserError) else 409 if isinstance(exc, RunFailure) else 500
        return JSONResponse(status_code=status, content={"error": {"message": str(exc), "type": type(exc).__name__}})

    return app
