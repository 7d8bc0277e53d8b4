"""Per-user API tokens, stored hashed in one JSON file under the data dir.

Only the sha256 of a token is kept on disk, so a leaked tokens file does not hand out
access. Writes go through `atomic_write_json` (temp file + os.replace) under a lock, so
a crash mid-write leaves the old file intact and two request threads never interleave.
The admin token (user creation) never touches the file: it comes from config or the
environment, see `ApiOptions`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from nanoresearch.errors import UserError
from nanoresearch.workspace import atomic_write_json

log = logging.getLogger(__name__)

USER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TOKEN_PREFIX = "nr_"
ADMIN_TOKEN_ENV = "NANORESEARCH_ADMIN_TOKEN"
OPEN_REGISTRATION_ENV = "NANORESEARCH_OPEN_REGISTRATION"
TOKENS_FILE = "api_tokens.json"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh bearer token; the prefix makes it recognisable in config files and logs."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_user_id(user_id: str) -> str:
    if not USER_ID_RE.match(user_id or ""):
        raise UserError(f"user id {user_id!r} is invalid: use 1-64 letters, digits, '_', '.' "
                        "or '-', starting with a letter or digit")
    return user_id


class TokenAuth:
    """Maps bearer tokens to user ids. File layout:
    {"tokens": {"<sha256>": {"user_id": "...", "created_at": 1.0}}}"""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._mtime: tuple[int, int, int] | None = None
        self._tokens: dict[str, dict] = self._load()

    def _stamp(self) -> tuple[int, int, int] | None:
        # os.replace gives every save a new inode, so this changes even within one mtime tick
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        # another process (the CLI, a second API replica) may have added a user since we
        # loaded; one stat() per request keeps every replica current without a database
        if self._stamp() != self._mtime:
            with self._lock:
                self._tokens = self._load()

    def _load(self) -> dict[str, dict]:
        self._mtime = self._stamp()
        if self._mtime is None:
            return {}
        try:
            data = json.loads(self.path.read_text())
            return dict(data.get("tokens", {}))
        except (json.JSONDecodeError, AttributeError) as e:
            raise UserError(f"token file {self.path} is not valid JSON ({e}); restore it from "
                            "a backup or delete it and create the users again") from None

    def _save(self) -> None:
        atomic_write_json(self.path, {"tokens": self._tokens})
        os.chmod(self.path, 0o600)
        self._mtime = self._stamp()

    def issue(self, user_id: str) -> str:
        """Create and store a new token for `user_id`; the plain token is returned once."""
        token = new_token()
        self.add_token(user_id, token)
        return token

    def add_token(self, user_id: str, token: str) -> None:
        """Store a token made elsewhere (e.g. by the ProjectService); idempotent."""
        check_user_id(user_id)
        if len(token) < 16:
            raise UserError("an API token must be at least 16 characters long")
        h = hash_token(token)
        self._refresh()
        with self._lock:
            owner = self._tokens.get(h, {}).get("user_id")
            if owner is not None and owner != user_id:
                raise UserError("this token already belongs to another user; issue a new one")
            if owner is None:
                self._tokens[h] = {"user_id": user_id, "created_at": time.time()}
                self._save()

    def verify(self, token: str | None) -> str | None:
        """The user id the token belongs to, or None."""
        if not token:
            return None
        self._refresh()
        rec = self._tokens.get(hash_token(token))
        return rec["user_id"] if rec else None

    def has_user(self, user_id: str) -> bool:
        self._refresh()
        return any(r["user_id"] == user_id for r in self._tokens.values())

    def revoke_user(self, user_id: str) -> int:
        """Drop every token of a user; returns how many were dropped."""
        self._refresh()
        with self._lock:
            keep = {h: r for h, r in self._tokens.items() if r["user_id"] != user_id}
            dropped = len(self._tokens) - len(keep)
            if dropped:
                self._tokens = keep
                self._save()
        return dropped


@dataclass(frozen=True)
class ApiOptions:
    """Who may create users: a holder of the admin token, or anyone when open
    registration is on. With neither, users are created from the CLI only."""

    admin_token: str | None = None
    open_registration: bool = False

    @classmethod
    def from_env(cls) -> "ApiOptions":
        flag = os.environ.get(OPEN_REGISTRATION_ENV, "").strip().lower()
        return cls(admin_token=os.environ.get(ADMIN_TOKEN_ENV) or None,
                   open_registration=flag in ("1", "true", "yes", "on"))

    def is_admin(self, token: str | None) -> bool:
        # constant-time compare: the admin token must not leak through response timing
        return bool(self.admin_token and token
                    and hmac.compare_digest(self.admin_token.encode(), token.encode()))


def tokens_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / TOKENS_FILE
