"""Per-user API tokens, stored hashed in one JSON file under the data dir.

Only the sha256 of a token is kept on disk, so a leaked tokens file does not hand out
access. Every change re-reads the file and writes it back (temp file + os.replace) under
a thread lock *and* an fcntl lock on `api_tokens.json.lock`, so two API replicas and the
CLI never lose each other's changes. Tokens are listed and revoked by a short id (the
first 12 hex digits of their hash), never by value.

Three credentials, one place:
- a user's token (`nr_...`): the HTTP API, and `planner:<own id>` on the planner route;
- the admin token, `$NANORESEARCH_ADMIN_TOKEN` (never stored): user administration and
  the planner's admin routes, which are refused when it is unset;
- the planner service token (`<data_dir>/planner_service_token`, 0600): the system's
  own planner client, which plans for every user.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from nanoresearch.config import QuotaSettings, Settings
from nanoresearch.errors import UserError
from nanoresearch.ids import check_user_id  # noqa: F401 - re-exported for the routes
from nanoresearch.workspace import atomic_write_json, file_lock
from nanoresearch.llm.registry import PLANNER_TOKEN_FILE as SERVICE_TOKEN_FILE  # one name for the file

log = logging.getLogger(__name__)

TOKEN_PREFIX = "nr_"
ADMIN_TOKEN_ENV = "NANORESEARCH_ADMIN_TOKEN"
OPEN_REGISTRATION_ENV = "NANORESEARCH_OPEN_REGISTRATION"
TOKENS_FILE = "api_tokens.json"


class UserExists(UserError):
    """The user id is taken (it has tokens or data)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_id(token_hash: str) -> str:
    return token_hash[:12]


def new_token() -> str:
    """A fresh bearer token; the prefix makes it recognisable in config files and logs."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


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

    @contextmanager
    def _mutate(self) -> Iterator[dict[str, dict]]:
        """Read-modify-write under both locks; the change is saved when the block ends."""
        with self._lock, file_lock(self.path.with_name(self.path.name + ".lock")):
            self._tokens = self._load()
            before = dict(self._tokens)
            yield self._tokens
            if self._tokens != before:
                self._save()

    @contextmanager
    def registration(self) -> Iterator[None]:
        """Held while one user is created, so two replicas cannot both create the same
        id (its own lock file: add_token takes the token file's lock inside)."""
        with file_lock(self.path.with_name(self.path.name + ".register.lock")):
            yield

    def add_token(self, user_id: str, token: str, *, new_user: bool = False) -> None:
        """Store a token made elsewhere (e.g. by the ProjectService); idempotent. With
        `new_user`, refuse when the id already has a token (registration races)."""
        check_user_id(user_id)
        if len(token) < 16:
            raise UserError("an API token must be at least 16 characters long")
        h = hash_token(token)
        with self._mutate() as tokens:
            owner = tokens.get(h, {}).get("user_id")
            if owner is not None and owner != user_id:
                raise UserError("this token already belongs to another user; issue a new one")
            if new_user and any(r["user_id"] == user_id for k, r in tokens.items() if k != h):
                raise UserExists(f"user {user_id!r} already exists")
            if owner is None:
                tokens[h] = {"user_id": user_id, "created_at": time.time()}

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
        return self._drop(lambda h, r: r["user_id"] == user_id)

    def revoke_token(self, token: str) -> bool:
        """Drop one token by value (a user logging out / rotating their own)."""
        h = hash_token(token)
        return self._drop(lambda k, r: k == h) == 1

    def revoke_token_id(self, user_id: str, token_id: str) -> bool:
        """Drop one of a user's tokens by its short id (as listed by `users()`)."""
        if len(token_id) < 8:
            raise UserError("give the token id as listed (12 hex digits)")
        return self._drop(lambda h, r: r["user_id"] == user_id and h.startswith(token_id)) > 0

    def _drop(self, match) -> int:
        with self._mutate() as tokens:
            gone = [h for h, r in tokens.items() if match(h, r)]
            for h in gone:
                del tokens[h]
        return len(gone)

    def users(self) -> dict[str, list[dict]]:
        """user id -> its tokens as [{"token_id", "created_at"}] (never the token)."""
        self._refresh()
        out: dict[str, list[dict]] = {}
        for h, r in sorted(self._tokens.items(), key=lambda kv: kv[1].get("created_at", 0)):
            out.setdefault(r["user_id"], []).append(
                {"token_id": token_id(h), "created_at": r.get("created_at")})
        return out


@dataclass(frozen=True)
class ApiOptions:
    """Who may create users: a holder of the admin token, or anyone when open
    registration is on. With neither, users are created from the CLI only. The admin
    token may be given as its sha256 (`admin_hash`), which is what travels to Serve
    replicas (`for_replicas`). `quotas`, `projects_dir` and `data_dir` feed the
    per-user quotas (serve/quotas.py)."""

    admin_token: str | None = None
    open_registration: bool = False
    admin_hash: str | None = None
    quotas: QuotaSettings | None = None
    projects_dir: str | None = None
    data_dir: str | None = None

    @classmethod
    def from_env(cls) -> "ApiOptions":
        flag = os.environ.get(OPEN_REGISTRATION_ENV, "").strip().lower()
        return cls(admin_token=os.environ.get(ADMIN_TOKEN_ENV) or None,
                   open_registration=flag in ("1", "true", "yes", "on"))

    @classmethod
    def from_settings(cls, settings: Settings) -> "ApiOptions":
        env = cls.from_env()
        return replace(env, quotas=settings.serve.quotas, projects_dir=str(settings.projects_dir),
                       data_dir=str(settings.data_dir))

    def for_replicas(self) -> "ApiOptions":
        """The same options with the admin token replaced by its hash."""
        if not self.admin_token:
            return self
        return replace(self, admin_token=None, admin_hash=hash_token(self.admin_token))

    @property
    def admin_enabled(self) -> bool:
        return bool(self.admin_token or self.admin_hash)

    def is_admin(self, token: str | None) -> bool:
        if self.admin_token:
            return same_secret(self.admin_token, token)
        return bool(token) and same_secret(self.admin_hash, hash_token(token or ""))


def same_secret(expected: str | None, given: str | None) -> bool:
    """Constant-time compare (a secret must not leak through response timing); False
    when no secret is configured, so an unset token never matches an empty one."""
    return bool(expected and given and hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")))


def tokens_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / TOKENS_FILE


def service_token(data_dir: str | Path) -> str:
    """The planner service token of this data dir, created (0600) on first use. The
    planner deployment and the system's planner client both read it here, so they agree
    without passing a secret through Ray's runtime_env or the dashboard."""
    path = Path(data_dir) / SERVICE_TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it this instant
            text = path.read_text().strip()
            if text:
                return text
            time.sleep(0.02)
        raise UserError(f"{path} is empty: delete it and restart the server") from None
    token = "nrs_" + secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    return token
