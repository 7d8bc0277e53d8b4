"""The planner as a Ray Serve deployment (the only planner module that imports ray).

`build_planner_app(settings)` returns the bound application: one `PlannerDeployment`
replica holding a PlannerEngine (transformers + peft; per-user adapters switched by the
engine itself, see serve/planner_engine.py) behind the OpenAI-compatible FastAPI app of
serve/planner_openai.py. The replica asks for `serve.planner_resources`, or, unset, for
what the cluster offers (a `planner` node and its GPU, else a GPU, else a CPU): the
driver's own CUDA plays no part. `deploy_planner(settings)` runs it on `serve.host`
(127.0.0.1 by default) at route prefix /v1:

    from openai import OpenAI
    OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="-").chat.completions.create(
        model="planner:alice", messages=[{"role": "user", "content": "..."}])

Engine choice (`settings.serve.planner_engine`): "transformers", "vllm", or "auto"
(vLLM when it is importable *and* the replica sees a GPU, else transformers): decided
inside the replica, on the node it was placed on. vLLM is
imported lazily and only on that path; it is never required.
"""
from __future__ import annotations

import logging
from typing import Any

from ray import serve

from nanoresearch.config import Settings
from nanoresearch.errors import UserError
from nanoresearch.ray_runtime import actor_options, cluster_offers, init_ray_for, planner_resources
from nanoresearch.shipped_settings import shipped_json, with_secrets
from serve.planner_engine import PlannerEngine
from serve.planner_log import PlannerLog
from serve.auth import ApiOptions, TokenAuth, hash_token, service_token, tokens_path
from serve.planner_openai import PlannerAuth, create_planner_api
from storage.adapters import AdapterRegistry

log = logging.getLogger(__name__)
APP_NAME = "planner"
ROUTE_PREFIX = "/v1"


def choose_engine(settings: Settings) -> str:
    want = settings.serve.planner_engine
    if want == "transformers":
        return want
    try:
        import importlib.util

        import torch
        has_vllm = importlib.util.find_spec("vllm") is not None
        gpu = torch.cuda.is_available()
    except ImportError:
        has_vllm, gpu = False, False
    if want == "vllm" and not has_vllm:
        raise UserError("serve.planner_engine=vllm but vllm is not installed: "
                        "`pip install nanoresearch[gpu]` (GPUs) or `[cpu-serving]`, or use 'transformers'")
    return "vllm" if want == "vllm" or (has_vllm and gpu) else "transformers"


def base_model_dir(settings: Settings) -> str:
    from training.hf_model import ensure_base_model
    return str(ensure_base_model(settings))


def make_engine(settings: Settings, model_dir: str | None = None):
    """PlannerEngine (transformers) or, when chosen, VLLMPlannerEngine (lazy import)."""
    import torch

    base = model_dir or base_model_dir(settings)
    registry, plog = AdapterRegistry(settings.adapters_dir), PlannerLog(settings.data_dir)
    if choose_engine(settings) == "vllm":
        from serve.planner_vllm import VLLMPlannerEngine
        return VLLMPlannerEngine(base, registry, plog)
    torch.set_num_threads(max(1, settings.providers.embedded_threads))
    return PlannerEngine(base, registry, plog, device="cuda" if torch.cuda.is_available() else "cpu")


@serve.ingress()
class PlannerDeployment:
    """One replica = one engine. Generation requests run in FastAPI's thread pool, so an
    admin load or a second user's request is accepted while one generates; the engine's
    lock orders their use of the model."""

    def __init__(self, settings_json: str, model_dir: str | None = None, admin_hash: str | None = None):
        self.settings = with_secrets(Settings.model_validate_json(settings_json))
        self.engine = make_engine(self.settings, model_dir)
        data = self.settings.data_dir
        self.auth = PlannerAuth(TokenAuth(tokens_path(data)), service_token(data), admin_hash)

    def __serve_build_asgi_app__(self):
        return create_planner_api(self.engine, auth=self.auth)

    def placement(self) -> dict[str, Any]:
        """Where this replica runs and on what (through a deployment handle, not HTTP)."""
        import ray
        ctx = ray.get_runtime_context()
        return {"node_id": ctx.get_node_id(), "engine": type(self.engine).__name__,
                "model": getattr(self.engine, "model_name", ""),
                "resources": {k: float(v) for k, v in ctx.get_assigned_resources().items()}}


def planner_deployment(settings: Settings, resources: dict[str, float] | None = None,
                       max_ongoing_requests: int = 64):
    """The Serve deployment; its replica asks for `resources`, by default what
    `serve.planner_resources` says or, unset, what the cluster offers (ray_runtime)."""
    res = resources or planner_resources(settings.serve.planner_resources, cluster_offers())
    log.info("planner replica asks for %s", res)
    return serve.deployment(PlannerDeployment, name="PlannerDeployment", num_replicas=1,
                            max_ongoing_requests=max_ongoing_requests,
                            ray_actor_options=actor_options(res))


def build_planner_app(settings: Settings, *, model_dir: str | None = None,
                      admin_token: str | None = None, resources: dict[str, float] | None = None,
                      max_ongoing_requests: int = 64):
    """The bound Serve application (pass it to serve.run)."""
    # only the hash travels: Serve keeps a deployment's arguments and shows its config
    token = admin_token or ApiOptions.from_env().admin_token
    dep = planner_deployment(settings, resources, max_ongoing_requests)
    return dep.bind(shipped_json(settings), model_dir, hash_token(token) if token else None)


def start_serve(settings: Settings) -> None:
    """Serve's HTTP proxy on serve.host:port on every node (so an actor anywhere reaches
    the planner on its own node's loopback); idempotent."""
    init_ray_for(settings)
    serve.start(proxy_location="EveryNode",
                http_options={"host": settings.serve.host, "port": settings.serve.port})


def deploy_planner(settings: Settings, *, model_dir: str | None = None, admin_token: str | None = None,
                   route_prefix: str = ROUTE_PREFIX, **kw: Any):
    """Start (or join) Ray and Serve and run the planner app. Returns the deployment
    handle; the HTTP base URL is http://127.0.0.1:<port><route_prefix>."""
    start_serve(settings)
    app = build_planner_app(settings, model_dir=model_dir, admin_token=admin_token, **kw)
    return serve.run(app, name=APP_NAME, route_prefix=route_prefix)


def planner_running() -> bool:
    """The planner app is deployed and RUNNING (a second project reuses it)."""
    try:
        st = serve.status().applications.get(APP_NAME)
    except Exception:  # noqa: BLE001 - Serve not started
        return False
    return st is not None and str(st.status).endswith("RUNNING")


def planner_base_url(settings: Settings, route_prefix: str = ROUTE_PREFIX) -> str:
    return f"http://127.0.0.1:{settings.serve.port}{route_prefix}"
