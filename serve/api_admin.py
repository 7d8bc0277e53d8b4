"""Admin routes: list users, issue and revoke tokens, remove a user's access.

All require `Authorization: Bearer $NANORESEARCH_ADMIN_TOKEN` and are refused (403) when
the server has no admin token. Tokens are named by a short id (the start of their hash),
so nothing here ever shows a usable token again except the one a `POST` just issued.
Removing a user revokes every token; their data stays on disk (and keeps the id from
being registered again by someone else) until the operator deletes it.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from serve.api_deps import ApiError, admin_dep
from serve.api_models import ErrorBody, UserCreated
from serve.api_users import user_has_data
from serve.auth import ApiOptions, TokenAuth, check_user_id

log = logging.getLogger(__name__)
_ERR = {k: {"model": ErrorBody} for k in (401, 403, 404)}


class TokenInfo(BaseModel):
    token_id: str
    created_at: float | None = None


class UserInfo(BaseModel):
    user_id: str
    tokens: list[TokenInfo]


class Revoked(BaseModel):
    user_id: str
    revoked: int


def admin_router(service: Any, auth: TokenAuth, options: ApiOptions) -> APIRouter:
    r = APIRouter(prefix="/admin", tags=["admin"], responses=_ERR,
                  dependencies=[Depends(admin_dep(options))])

    @r.get("/users", response_model=list[UserInfo], summary="Users that hold tokens")
    def users() -> list[UserInfo]:
        return [UserInfo(user_id=u, tokens=[TokenInfo(**t) for t in toks])
                for u, toks in sorted(auth.users().items())]

    @r.post("/users/{user_id}/tokens", status_code=201, response_model=UserCreated,
            summary="Issue a new token for a user (e.g. one created from the CLI)")
    def issue(user_id: str) -> UserCreated:
        uid = check_user_id(user_id)
        if not (auth.has_user(uid) or user_has_data(service, uid)):
            raise ApiError(404, "not_found", f"no user {uid!r}: create it with POST /api/v1/users")
        token = auth.issue(uid)
        log.info("admin issued a token for %s", uid)
        return UserCreated(user_id=uid, token=token)

    @r.delete("/users/{user_id}/tokens/{token_id}", response_model=Revoked,
              summary="Revoke one token (ids from GET /admin/users)")
    def revoke(user_id: str, token_id: str) -> Revoked:
        if not auth.revoke_token_id(check_user_id(user_id), token_id):
            raise ApiError(404, "not_found", f"user {user_id!r} has no token {token_id!r}")
        return Revoked(user_id=user_id, revoked=1)

    @r.delete("/users/{user_id}", response_model=Revoked,
              summary="Remove a user's access: revoke all their tokens (data is kept)")
    def remove(user_id: str) -> Revoked:
        n = auth.revoke_user(check_user_id(user_id))
        if n == 0:
            raise ApiError(404, "not_found", f"user {user_id!r} holds no tokens")
        log.warning("admin removed user %s (%d token(s) revoked)", user_id, n)
        return Revoked(user_id=user_id, revoked=n)

    return r
