"""Shared pieces of the API routes: the error type, bearer-token auth, ownership checks.

Ownership failures answer 404 exactly like a missing project, with the same message, so
one user cannot probe which project ids exist for others.
"""
from __future__ import annotations

from typing import Any, Callable

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serve.auth import ApiOptions, TokenAuth

_bearer = HTTPBearer(auto_error=False, description="the token from POST /api/v1/users")


class ApiError(Exception):
    """Raised by routes; rendered as ErrorBody with the given HTTP status."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(status, code, detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers: dict[str, str] | None = None  # e.g. Retry-After on a 429


def bearer_token(creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> str | None:
    return creds.credentials if creds else None


def current_user_dep(auth: TokenAuth) -> Callable[..., str]:
    """A dependency that resolves `Authorization: Bearer <token>` to a user id or 401s."""

    def current_user(token: str | None = Depends(bearer_token)) -> str:
        if not token:
            raise ApiError(401, "unauthorized", "missing token: send the header "
                           "'Authorization: Bearer <token>' (get a token from POST /api/v1/users "
                           "or `nanoresearch` user creation)")
        user = auth.verify(token)
        if user is None:
            raise ApiError(401, "unauthorized", "unknown or revoked token: check the value in "
                           "'Authorization: Bearer <token>', or ask the admin for a new one")
        return user

    return current_user


def admin_dep(options: ApiOptions) -> Callable[..., None]:
    """A dependency that admits only the admin token; refused when none is configured."""

    def admin(token: str | None = Depends(bearer_token)) -> None:
        if not options.admin_enabled:
            raise ApiError(403, "forbidden", "admin routes are disabled: set "
                           "NANORESEARCH_ADMIN_TOKEN on the server to enable them")
        if not options.is_admin(token):
            raise ApiError(401, "unauthorized", "admin token required (Authorization: Bearer "
                           "$NANORESEARCH_ADMIN_TOKEN)")

    return admin


def not_found(project_id: str) -> ApiError:
    return ApiError(404, "not_found", f"project {project_id!r} not found")


def require_owner(service: Any, project_id: str, user_id: str) -> None:
    """404 unless `user_id` owns the project (missing and foreign look the same)."""
    if service.project_owner(project_id) != user_id:
        raise not_found(project_id)
