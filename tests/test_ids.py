"""One user-id rule for every layer (issue 15, H2 groundwork): before, the API allowed
64 characters without '@', profiles allowed '@', adapters allowed 128 characters, so an id
could own a profile that the API and the planner could never serve."""
from __future__ import annotations

import pytest

from nanoresearch.errors import UserError
from nanoresearch.ids import check_user_id


@pytest.mark.parametrize("uid", ["alice", "a", "A.b-c_9", "x" * 64])
def test_valid_everywhere(uid, tmp_path):
    from serve.auth import check_user_id as api_rule
    from storage.adapters import AdapterRegistry
    from storage.profiles import ProfileStore

    assert check_user_id(uid) == api_rule(uid) == uid
    assert AdapterRegistry(tmp_path / "a").user_dir(uid).name == uid
    assert ProfileStore(tmp_path / "p").versions(uid) == []


@pytest.mark.parametrize("uid", ["", "x" * 65, "a@b", "../x", ".hidden", "-x", "a/b", "a b", None, 3])
def test_invalid_everywhere(uid, tmp_path):
    from storage.adapters import AdapterRegistry
    from storage.profiles import ProfileStore, profile_from_answers

    for check in (check_user_id, AdapterRegistry(tmp_path / "a").user_dir,
                  ProfileStore(tmp_path / "p").versions, lambda u: profile_from_answers(u, {})):
        with pytest.raises(UserError, match="invalid"):
            check(uid)
