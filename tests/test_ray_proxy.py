"""The one actor proxy (nanoresearch/ray_proxy.py) both Ray hosts use: the agents'
`RayProxy` (learns data attributes from the agent) and the store's `RemoteStore` (knows
StoreService's methods). Checked here against a fake handle, without starting Ray; the Ray
round trips are in tests/actors/test_ray_app.py and tests/storage/test_service.py."""
from __future__ import annotations

import pickle

import pytest

ray = pytest.importorskip("ray")

from nanoresearch import ray_proxy  # noqa: E402
from nanoresearch.ray_proxy import ActorProxy  # noqa: E402


class _Remote:
    def __init__(self, fn):
        self.remote = fn


class FakeHandle:
    """Answers like an actor holding `obj`: call / resolve, results returned directly."""

    def __init__(self, obj):
        self.obj, self.hops = obj, []
        self.call = _Remote(self._call)
        self.resolve = _Remote(self._resolve)

    def _call(self, method, *a, **kw):
        self.hops.append(("call", method))
        return getattr(self.obj, method)(*a, **kw)

    def _resolve(self, name):
        self.hops.append(("resolve", name))
        v = getattr(self.obj, name)
        return ("method", None) if callable(v) else ("data", v)

    def __reduce__(self):
        return (FakeHandle, (self.obj,))


class Agent:
    def __init__(self):
        self.history = ["built"]

    def work(self, x):
        self.history.append(x)
        return 2 * x


@pytest.fixture(autouse=True)
def _direct_get(monkeypatch):
    monkeypatch.setattr(ray_proxy.ray, "get", lambda x: x)


def test_without_a_class_the_proxy_learns_methods_and_rereads_data():
    h = FakeHandle(Agent())
    p = ActorProxy(h, "agent")
    assert p.work(3) == 6 and p.work(4) == 8
    assert p.history == ["built", 3, 4]  # data read from the actor, not cached
    assert h.hops == [("resolve", "work"), ("call", "work"), ("call", "work"), ("resolve", "history")]
    with pytest.raises(AttributeError):
        p._secret  # noqa: B018


def test_with_a_class_only_its_public_methods_are_forwarded_with_no_lookup_hop():
    h = FakeHandle(Agent())
    p = ActorProxy(h, "agent", Agent)
    assert p.work(5) == 10 and h.hops == [("call", "work")]
    with pytest.raises(AttributeError, match="no public method 'history'"):
        p.history  # noqa: B018


def test_both_hosts_use_it_and_a_pickled_proxy_keeps_its_type_and_actor():
    from actors.ray_app import RayProxy
    from storage.ray_store import RemoteStore
    from storage.service import StoreService

    agent, store = RayProxy(FakeHandle(Agent()), "agent"), RemoteStore(FakeHandle(Agent()))
    assert isinstance(agent, ActorProxy) and isinstance(store, ActorProxy)
    assert store._cls is StoreService and agent._cls is None
    for p in (agent, store):
        q = pickle.loads(pickle.dumps(p))
        assert type(q) is type(p) and q._name == p._name and q._cls is p._cls


def test_only_agent_calls_count_as_hops():
    before = ray_proxy.hops()["calls"]
    from actors.ray_app import RayProxy

    ActorProxy(FakeHandle(Agent()), "x", Agent).work(1)
    assert ray_proxy.hops()["calls"] == before
    RayProxy(FakeHandle(Agent()), "a").work(1)  # resolve + call
    assert ray_proxy.hops()["calls"] == before + 2
