"""TokenAuth: hashed storage, atomic persistence, reload, revocation; ApiOptions."""
from __future__ import annotations

import hashlib
import json

import pytest

from nanoresearch.errors import UserError
from serve.auth import ApiOptions, TokenAuth, check_user_id


def test_tokens_stored_hashed_and_reloaded(tmp_path):
    path = tmp_path / "data" / "api_tokens.json"
    auth = TokenAuth(path)
    tok = auth.issue("alice")
    raw = path.read_text()
    assert tok not in raw and hashlib.sha256(tok.encode()).hexdigest() in raw
    assert oct(path.stat().st_mode)[-3:] == "600"
    again = TokenAuth(path)
    assert again.verify(tok) == "alice" and again.verify(tok + "x") is None
    assert again.verify(None) is None and again.verify("") is None
    assert not list(path.parent.glob(".*.tmp"))  # atomic write left no temp file


def test_add_token_idempotent_and_owned(tmp_path):
    auth = TokenAuth(tmp_path / "t.json")
    auth.add_token("alice", "a" * 20)
    auth.add_token("alice", "a" * 20)
    assert len(json.loads((tmp_path / "t.json").read_text())["tokens"]) == 1
    with pytest.raises(UserError, match="another user"):
        auth.add_token("bob", "a" * 20)
    with pytest.raises(UserError, match="16 characters"):
        auth.add_token("bob", "short")


def test_revoke(tmp_path):
    auth = TokenAuth(tmp_path / "t.json")
    t1, t2, tb = auth.issue("alice"), auth.issue("alice"), auth.issue("bob")
    assert auth.revoke_user("alice") == 2
    assert auth.verify(t1) is None and auth.verify(t2) is None and auth.verify(tb) == "bob"
    assert TokenAuth(tmp_path / "t.json").verify(t1) is None
    assert not auth.has_user("alice") and auth.has_user("bob")


def test_corrupt_file_gives_clear_error(tmp_path):
    (tmp_path / "t.json").write_text("{broken")
    with pytest.raises(UserError, match="not valid JSON"):
        TokenAuth(tmp_path / "t.json")


@pytest.mark.parametrize("uid", ["", "../x", "a b", "-lead", "x" * 65])
def test_bad_user_ids(uid):
    with pytest.raises(UserError, match="user id"):
        check_user_id(uid)


def test_options_from_env(monkeypatch):
    monkeypatch.setenv("NANORESEARCH_ADMIN_TOKEN", "s3cret-admin-token")
    monkeypatch.setenv("NANORESEARCH_OPEN_REGISTRATION", "yes")
    opts = ApiOptions.from_env()
    assert opts.open_registration and opts.is_admin("s3cret-admin-token")
    assert not opts.is_admin("wrong") and not opts.is_admin(None)
    assert not ApiOptions().is_admin("anything")


def test_second_instance_sees_new_users_and_revocations(tmp_path):
    """Two replicas (or the CLI and the server) share one file: each sees the other's writes."""
    path = tmp_path / "t.json"
    server, cli = TokenAuth(path), TokenAuth(path)
    assert server.verify("nr_" + "x" * 30) is None
    tok = cli.issue("dave")
    assert server.verify(tok) == "dave" and server.has_user("dave")
    cli.revoke_user("dave")
    assert server.verify(tok) is None


_ADD_USERS = """
import sys
from serve.auth import TokenAuth
auth = TokenAuth(sys.argv[1])
for i in range(25):
    auth.issue(f"{sys.argv[2]}{i}")
"""


def test_two_processes_adding_users_lose_nothing(tmp_path):
    """Issue 15, M3: each process saved its own cached dict, so concurrent creators
    overwrote each other's users; now every change is a locked read-modify-write."""
    import os
    import subprocess
    import sys

    path = tmp_path / "api_tokens.json"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [subprocess.Popen([sys.executable, "-c", _ADD_USERS, str(path), p], env=env)
             for p in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert len(TokenAuth(path).users()) == 50


def test_service_token_is_private_and_stable(tmp_path):
    from serve.auth import SERVICE_TOKEN_FILE, service_token

    tok = service_token(tmp_path)
    assert tok.startswith("nrs_") and service_token(tmp_path) == tok
    assert (tmp_path / SERVICE_TOKEN_FILE).stat().st_mode & 0o777 == 0o600


def test_replica_options_carry_only_the_admin_hash():
    import pickle

    opts = ApiOptions(admin_token="the-admin-secret-0123456789").for_replicas()
    assert b"the-admin-secret" not in pickle.dumps(opts)
    assert opts.is_admin("the-admin-secret-0123456789") and not opts.is_admin("wrong")
    assert not ApiOptions().is_admin("") and not ApiOptions().admin_enabled


def test_revoke_one_token_by_id(tmp_path):
    auth = TokenAuth(tmp_path / "t.json")
    t1, t2 = auth.issue("alice"), auth.issue("alice")
    ids = [t["token_id"] for t in auth.users()["alice"]]
    assert len(ids) == 2 and all(len(i) == 12 for i in ids)
    assert auth.revoke_token_id("alice", ids[0]) and not auth.revoke_token_id("bob", ids[1])
    assert auth.verify(t1) is None and auth.verify(t2) == "alice"
    assert auth.revoke_token(t2) and auth.users() == {}
