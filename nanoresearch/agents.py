"""The agent registry: every agent of the team declared once.

An `AgentSpec` names the agent, the model roles it calls (`models.per_agent` keys), the Ray
resources its actor asks for, and its builder as "module:function" (resolved by the
composition root, so this ground-floor module imports no agent code). The CLI, the Ray
composition (one actor per spec), config validation (`models.per_agent` keys) and the
actor proxies all read this table: adding an agent is one `AgentSpec` plus its class and
builder.

Resources use Ray's names ({"CPU": 1, "GPU": 1, "planner": 1}); `cluster.agent_resources`
in the settings overrides them per agent, so a cluster can pin the coding agent to
nodes offering an `experiment` resource without a code change.
"""
from __future__ import annotations

from dataclasses import dataclass, field

BUILDERS = "nanoresearch_app.agent_builders"


@dataclass(frozen=True)
class AgentSpec:
    name: str
    roles: tuple[str, ...]  # model roles it calls (models.per_agent keys)
    builder: str  # "module:function(BuildContext) -> agent"
    resources: dict[str, float] = field(default_factory=lambda: {"CPU": 1.0})
    doc: str = ""


def _spec(name: str, *roles: str, resources: dict[str, float] | None = None, doc: str = "") -> AgentSpec:
    return AgentSpec(name, roles or (name,), f"{BUILDERS}:{name}",
                     dict(resources or {"CPU": 1.0}), doc)


# CPU 1 for every agent that runs a model or an experiment: on a cluster Ray spreads them
# over the CPU nodes; reflection only distills text after a phase, so it asks for half.
AGENT_SPECS: tuple[AgentSpec, ...] = (
    _spec("ideation", doc="literature -> evidence -> hypotheses -> novelty"),
    _spec("planning", "planning", "review", doc="experiment blueprint and its critique"),
    _spec("coding", doc="experiment code (seeded or freeform)"),
    _spec("debugging", doc="patches a failed run"),
    _spec("analysis", doc="reads the logs and metrics"),
    _spec("writing", doc="LaTeX paper and its revision"),
    _spec("review", doc="reviews the paper"),
    _spec("reflection", resources={"CPU": 0.5}, doc="distills skills and memories"),
)
AGENTS: dict[str, AgentSpec] = {s.name: s for s in AGENT_SPECS}

# model roles that are not team actors: the orchestrator itself, the trained planner, and
# the benchmark's judge / simulated user
OTHER_ROLES = ("orchestrator", "planner", "judge", "simulated_user")


def model_roles() -> tuple[str, ...]:
    """Every valid `models.per_agent` key."""
    roles = dict.fromkeys(r for s in AGENT_SPECS for r in (s.name, *s.roles))
    return (*roles, *OTHER_ROLES)


def agent_resources(name: str, overrides: dict[str, dict[str, float]] | None = None,
                    node_resource: str | None = None) -> dict[str, float]:
    """The agent's Ray resources: the settings' override, else its declaration; plus a
    sliver of `node_resource` (the marker CPU nodes advertise) when one is configured."""
    if name not in AGENTS:
        raise KeyError(f"unknown agent {name!r}; declared: {', '.join(AGENTS)}")
    res = dict((overrides or {}).get(name) or AGENTS[name].resources)
    if node_resource:
        res.setdefault(node_resource, NODE_SLIVER)
    return res


NODE_SLIVER = 0.01  # a node advertising 1 unit hosts 100 actors
