"""Routes for accounts, the profile questionnaire, and a user's own knowledge
(skills, memories, planner adapters). Every search is scoped to the caller; results are
filtered again here so a service bug cannot leak another user's records.

Registration cannot take over data: an id that already has a token, or any data
(profile, projects, memories, adapters: e.g. `default`, used from the CLI), is refused
to self-registration (409); only the admin may hand such an id a token."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Query

from nanoresearch.types import AdapterVersion, MemoryEntry, SkillEntry, UserProfile
from serve.api_deps import ApiError, bearer_token, current_user_dep
from serve.api_models import ErrorBody, Me, ProfileAnswers, UserCreate, UserCreated
from serve.auth import ApiOptions, TokenAuth, check_user_id

log = logging.getLogger(__name__)

_ERR = {400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody},
        404: {"model": ErrorBody}, 409: {"model": ErrorBody}}


def users_router(service: Any, auth: TokenAuth, options: ApiOptions) -> APIRouter:
    r = APIRouter(responses=_ERR)
    user_dep = current_user_dep(auth)

    @r.post("/users", status_code=201, response_model=UserCreated, tags=["users"],
            summary="Create a user and return their API token")
    def create_user(body: UserCreate, token: str | None = Depends(bearer_token)) -> UserCreated:
        admin = options.is_admin(token)
        if not (options.open_registration or admin):
            raise ApiError(403, "forbidden", "creating users needs the admin token "
                           "(Authorization: Bearer $NANORESEARCH_ADMIN_TOKEN) unless the server "
                           "runs with NANORESEARCH_OPEN_REGISTRATION=1")
        uid = check_user_id(body.user_id)
        with auth.registration():  # check-then-create is atomic across replicas
            if auth.has_user(uid) or (not admin and user_has_data(service, uid)):
                raise ApiError(409, "conflict", f"user {uid!r} already exists (it has a token "
                               "or data); pick another id, or ask the admin for a token")
            user_token = service.create_user(uid, body.name)
            auth.add_token(uid, user_token)
        log.info("created user %s%s", uid, " (by the admin)" if admin else "")
        return UserCreated(user_id=uid, token=user_token)

    @r.delete("/me/token", status_code=204, tags=["users"],
              summary="Revoke the token this request is sent with")
    def revoke_own(user: str = Depends(user_dep), token: str | None = Depends(bearer_token)) -> None:
        auth.revoke_token(token or "")
        log.info("user %s revoked a token", user)

    @r.get("/me", response_model=Me, tags=["users"], summary="Who this token belongs to")
    def me(user: str = Depends(user_dep)) -> Me:
        return Me(user_id=user, has_profile=service.get_profile(user) is not None)

    @r.get("/profile/questions", tags=["users"], summary="The profile questionnaire")
    def questions(user: str = Depends(user_dep)) -> list[dict[str, Any]]:
        return service.profile_questions()

    @r.put("/profile", response_model=UserProfile, tags=["users"],
           summary="Answer the questionnaire (creates or updates your profile)")
    def save_profile(body: ProfileAnswers, user: str = Depends(user_dep)) -> UserProfile:
        known = {q.get("id") for q in service.profile_questions()}
        unknown = sorted(set(body.answers) - known)
        if unknown:
            raise ApiError(422, "invalid_request", f"unknown question id(s) {unknown}; valid ids: "
                           f"{sorted(k for k in known if k)}")
        return service.save_profile(user, body.answers)

    @r.get("/profile", response_model=UserProfile, tags=["users"], summary="Your profile")
    def get_profile(user: str = Depends(user_dep)) -> UserProfile:
        prof = service.get_profile(user)
        if prof is None:
            raise ApiError(404, "not_found", "no profile yet: answer GET /api/v1/profile/questions "
                           "with PUT /api/v1/profile")
        return prof

    _knowledge_routes(r, service, user_dep)
    return r


def user_has_data(service: Any, user_id: str) -> bool:
    """Whether anything is stored under this id (so registering it would take it over)."""
    return bool(service.get_profile(user_id) is not None or service.list_projects(user_id)
                or service.list_adapters(user_id) or service.search_memories(user_id, "", 1))


def _knowledge_routes(r: APIRouter, service: Any, user_dep) -> None:
    @r.get("/skills", response_model=list[SkillEntry], tags=["knowledge"],
           summary="Search the skill bank (global skills and your own)")
    def skills(q: str = Query("", max_length=2000, description="empty: browse"),
               k: int = Query(10, ge=1, le=100), user: str = Depends(user_dep)) -> list[SkillEntry]:
        found = service.search_skills(user, q, k)
        return [s for s in found if s.scope in ("global", user)][:k]

    @r.get("/memories", response_model=list[MemoryEntry], tags=["knowledge"],
           summary="Search your memories")
    def memories(q: str = Query("", max_length=2000, description="empty: browse"),
                 k: int = Query(10, ge=1, le=100),
                 user: str = Depends(user_dep)) -> list[MemoryEntry]:
        found = service.search_memories(user, q, k)
        leaked = [m.id for m in found if m.user_id != user]
        if leaked:
            log.error("service returned %d memories of other users for %s; dropped", len(leaked), user)
        return [m for m in found if m.user_id == user][:k]

    @r.get("/adapters", response_model=list[AdapterVersion], tags=["knowledge"],
           summary="Versions of your planner LoRA adapter")
    def adapters(user: str = Depends(user_dep)) -> list[AdapterVersion]:
        return [a for a in service.list_adapters(user) if a.user_id == user]

