"""The HTTP API and web page as a Ray Serve deployment (the only API module importing ray).

    from serve.ray_api import build_api_app, run_api
    run_api(make_service, settings)            # serve.run(..., name="api", route_prefix="/")

The FastAPI app needs a live ProjectService, which holds handles to the orchestrator and
stores; those can only be made inside the replica. So the deployment uses Serve's
late-bound ingress: `@serve.ingress()` with no app, and `__serve_build_asgi_app__`, which
Serve calls after `__init__` on each replica, returns the app built around that replica's
service. `service_factory` must therefore be picklable (a module-level function or a
functools.partial over one).
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from ray import serve

from nanoresearch.config import Settings
from serve.api import ProjectService, create_app
from serve.auth import ApiOptions, TokenAuth, tokens_path

log = logging.getLogger(__name__)

APP_NAME = "api"
ROUTE_PREFIX = "/"


@serve.deployment(name="nanoresearch-api", ray_actor_options={"num_cpus": 0.25},
                  max_ongoing_requests=64, health_check_period_s=10)
@serve.ingress()
class ApiIngress:
    def __init__(self, service_factory: Callable[[], ProjectService], data_dir: str,
                 options: ApiOptions):
        self._service = service_factory()
        self._auth = TokenAuth(tokens_path(data_dir))
        self._options = options
        log.info("API replica ready (tokens at %s)", self._auth.path)

    def __serve_build_asgi_app__(self) -> Any:
        return create_app(self._service, self._auth, self._options)


def build_api_app(service_factory: Callable[[], ProjectService], settings: Settings,
                  options: ApiOptions | None = None, num_replicas: int = 1) -> serve.Application:
    """Bind the API deployment; deploy it with `serve.run(app, route_prefix="/")` or
    `run_api`. Options (admin token, open registration) are read here, on the driver, so
    replicas do not depend on the environment of whichever node they land on."""
    opts = options or ApiOptions.from_settings(settings)
    if not (opts.admin_enabled or opts.open_registration):
        log.warning("no NANORESEARCH_ADMIN_TOKEN and registration closed: users can only be "
                    "created from the CLI")
    dep = ApiIngress.options(num_replicas=num_replicas)
    return dep.bind(service_factory, str(settings.data_dir), opts.for_replicas())


def run_api(service_factory: Callable[[], ProjectService], settings: Settings,
            options: ApiOptions | None = None, blocking: bool = False):
    """Start Serve's HTTP proxy on settings.serve.host:port (127.0.0.1 by default) and
    deploy the API at `/`. Another Serve app (the planner) must use a longer prefix."""
    serve.start(http_options={"host": settings.serve.host, "port": settings.serve.port})
    app = build_api_app(service_factory, settings, options)
    handle = serve.run(app, name=APP_NAME, route_prefix=ROUTE_PREFIX, blocking=blocking)
    log.info("API at http://%s:%d/", settings.serve.host, settings.serve.port)
    return handle
