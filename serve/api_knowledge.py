"""Routes of the knowledge panel: what the system keeps about you, and deleting it.

GET /knowledge lists (not searches) your requirements, memories, skills and planner
adapter versions, so the page shows everything it will use; DELETE removes one memory,
or one of your own skills; POST /adapters/rollback serves an earlier adapter version.
Search stays at GET /skills and GET /memories (serve/api_users.py).
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends

from nanoresearch.types import KnowledgeView
from serve.api_deps import ApiError, current_user_dep
from serve.api_models import AdapterRollback, AdapterServed, ErrorBody
from serve.auth import TokenAuth

log = logging.getLogger(__name__)


def knowledge_router(service: Any, auth: TokenAuth) -> APIRouter:
    r = APIRouter(tags=["knowledge"], responses={k: {"model": ErrorBody} for k in (401, 404)})
    user_dep = current_user_dep(auth)

    @r.get("/knowledge", response_model=KnowledgeView,
           summary="Your requirements, memories and skills (what the planner may use)")
    def knowledge(user: str = Depends(user_dep)) -> KnowledgeView:
        kv = service.knowledge(user)
        # a store bug must not show one user another's memories
        return kv.model_copy(update={
            "requirements": [m for m in kv.requirements if m.user_id == user],
            "memories": [m for m in kv.memories if m.user_id == user],
            "skills": [s for s in kv.skills if s.scope == user],
            "shared_skills": [s for s in kv.shared_skills if s.scope == "global"],
            "adapters": [a for a in kv.adapters if a.user_id == user]})

    @r.delete("/memories/{memory_id}", status_code=204, summary="Forget one of your memories")
    def delete_memory(memory_id: str, user: str = Depends(user_dep)) -> None:
        if not service.delete_memory(user, memory_id):
            raise ApiError(404, "not_found", f"no memory {memory_id!r} of yours")
        log.info("user %s deleted memory %s", user, memory_id)

    @r.delete("/skills/{skill_id}", status_code=204,
              summary="Delete one of your own skills (shared skills are the admin's)")
    def delete_skill(skill_id: str, user: str = Depends(user_dep)) -> None:
        if not service.delete_skill(user, skill_id):
            raise ApiError(404, "not_found", f"no skill {skill_id!r} of yours (shared skills "
                           "can only be removed by the admin)")
        log.info("user %s deleted skill %s", user, skill_id)

    @r.post("/adapters/rollback", response_model=AdapterServed,
            summary="Serve an earlier version of your planner adapter (or the base model)")
    def rollback_adapter(body: AdapterRollback, user: str = Depends(user_dep)) -> AdapterServed:
        served = service.rollback_adapter(user, body.to_version)  # UserError -> 400, says why
        log.info("user %s rolled the planner adapter back to %s", user, served or "the base model")
        return AdapterServed(current_version=served)

    return r
