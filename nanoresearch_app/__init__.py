"""The composition root: builds the team (agents, store, planner, trainer) from settings
and runs a project's cycle (`compose.run_project`), in-process or as a Ray orchestrator
actor (`ray_launch`); `service.SystemProjectService` is the project service behind the
HTTP API. It imports every room below it; the CLI (`nanoresearch_cli`), the HTTP app
(`serve`, through the ProjectService protocol) and `benchmarks/` import it, never the
reverse."""
