"""A small exception hierarchy, ordered by who must act.

- UserError: the user must fix an input or a setting (the message says how).
- RunFailure: an experiment, a compile or an external service failed; the system may retry.
- ModelError: a model misbehaved (bad JSON, refused); the caller may re-ask.
- BudgetExceeded: a hard cap was reached; the project stops cleanly with its state saved.

Every exception pickles (Ray ships them between processes): each keeps its constructor
arguments in `args` and rebuilds from them.
"""
from __future__ import annotations


class NanoResearchError(Exception):
    """Base of all project errors."""

    def __reduce__(self):
        return (self.__class__, self.args)


class UserError(NanoResearchError):
    """Bad input or configuration: the message names the field and the fix."""


class ConfigError(UserError):
    pass


class RunFailure(NanoResearchError):
    """Something the system ran failed (experiment, LaTeX, HTTP source)."""


class ServiceUnavailable(RunFailure):
    """A network service (LLM API, literature API, Qdrant server) is unreachable or its
    circuit breaker is open."""


class ModelError(NanoResearchError):
    """A model produced unusable output."""


class StructuredOutputError(ModelError):
    def __init__(self, schema_name: str, attempts: int, last_error: str, last_text: str = ""):
        super().__init__(schema_name, attempts, last_error, last_text)
        self.schema_name = schema_name
        self.attempts = attempts
        self.last_error = last_error
        self.last_text = last_text

    def __str__(self) -> str:
        return (f"model output did not match schema {self.schema_name!r} after "
                f"{self.attempts} attempt(s): {self.last_error}")


class BudgetExceeded(NanoResearchError):
    def __init__(self, what: str, used: float, limit: float):
        super().__init__(what, used, limit)
        self.what, self.used, self.limit = what, used, limit

    def __str__(self) -> str:
        return (f"budget exceeded: {self.what} used {self.used:g} of {self.limit:g}; the project "
                f"state is saved - raise budgets.{self.what} in the config and `nanoresearch resume`")


class ModelRequestsBlocked(NanoResearchError):
    """Raised when a network model call is attempted while they are disallowed (tests)."""
