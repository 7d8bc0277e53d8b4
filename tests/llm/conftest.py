from __future__ import annotations

import pytest

from tests.llm.fake_server import FakeServer


@pytest.fixture()
def server():
    s = FakeServer()
    yield s
    s.close()
