from tests.execution.conftest import ray_head  # noqa: F401  (a private local Ray head)
