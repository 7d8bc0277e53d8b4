"""The edge store's meta file is written atomically and durably, and a torn one is a
clear error (issue 15, L5)."""
from __future__ import annotations

import pytest

from nanoresearch import workspace as wsmod
from nanoresearch.errors import UserError

qe = pytest.importorskip("qdrant_edge")


def test_meta_written_atomically_with_dir_fsync(tmp_path, monkeypatch):
    from storage.edge_store import EdgeStore

    synced = []
    monkeypatch.setattr(wsmod, "fsync_dir", lambda p: synced.append(p))
    store = EdgeStore(tmp_path / "edge")
    store.ensure_collection("skills", 8, {})
    assert (tmp_path / "edge" / "skills.meta.json").read_text().strip().startswith("{")
    assert tmp_path / "edge" in synced
    assert not list((tmp_path / "edge").glob(".*.tmp"))


def test_torn_meta_is_a_clear_error(tmp_path):
    from storage.edge_store import EdgeStore

    (tmp_path / "edge").mkdir()
    (tmp_path / "edge" / "skills.meta.json").write_text('{"di')
    with pytest.raises(UserError, match="unreadable.*delete it"):
        EdgeStore(tmp_path / "edge").ensure_collection("skills", 8, {})
