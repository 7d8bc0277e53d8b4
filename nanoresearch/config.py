"""Typed settings: one YAML file, then environment variables, then CLI overrides.

Precedence (highest first): `overrides` passed by the CLI (`--set budgets.max_cost_usd=2`),
environment (`NANORESEARCH_BUDGETS__MAX_COST_USD=2`), the YAML file
(`--config`, `$NANORESEARCH_CONFIG`, or `<data_dir>/config.yaml`), defaults.
Invalid values raise `ConfigError` naming the field and what to do.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nanoresearch.agents import model_roles
from nanoresearch.errors import ConfigError

AGENTS = model_roles()  # every models.per_agent key, from the agent registry
REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    return Path(os.environ.get("NANORESEARCH_HOME", Path.home() / ".nanoresearch"))


def _default_library() -> str:
    # the project's shared folder sits beside the checkout (../shared); look up the tree
    # so a checkout nested deeper (CI, worktrees) finds it too
    for base in (REPO_ROOT, *REPO_ROOT.parents):
        cand = base / "shared" / "literature" / "arxiv_ml.jsonl.gz"
        if cand.exists():
            return str(cand)
    # the copy shipped in the package (split in parts, see nanoresearch/literature/shipped.py)
    shipped = Path(__file__).parent / "literature" / "data" / "arxiv_ml.jsonl.gz"
    if shipped.with_name(shipped.name + ".part1").exists():
        return str(shipped)
    return ""


class ModelRouting(BaseModel):
    """`provider:model` per agent. Providers: embedded, openai, anthropic, deepseek,
    vllm (any OpenAI-compatible base_url), planner (our Serve route), scripted."""

    default: str = "embedded:smollm2"
    per_agent: dict[str, str] = Field(default_factory=dict)

    @field_validator("default")
    @classmethod
    def _spec(cls, v: str) -> str:
        if ":" not in v:
            raise ValueError(f"{v!r} is not 'provider:model' (e.g. 'embedded:smollm2', 'openai:gpt-4o-mini')")
        return v

    @field_validator("per_agent")
    @classmethod
    def _agents(cls, v: dict[str, str]) -> dict[str, str]:
        roles = model_roles()  # read when validating: the agent registry is the one list
        for agent, spec in v.items():
            if agent not in roles:
                raise ValueError(f"unknown agent {agent!r}; choose from {', '.join(roles)}")
            if ":" not in spec:
                raise ValueError(f"models.per_agent.{agent}={spec!r} is not 'provider:model'")
        return v

    def for_agent(self, agent: str) -> str:
        return self.per_agent.get(agent, self.default)

    # declared capability per model spec, glob patterns allowed: {"openai:*": "strong"};
    # unlisted: embedded and scripted -> small, every hosted/served model -> strong
    capabilities: dict[str, Literal["small", "strong"]] = Field(default_factory=dict)


class ProviderSettings(BaseModel):
    openai_base_url: str | None = None  # None: api.openai.com
    openai_api_key: str | None = None  # falls back to $OPENAI_API_KEY
    anthropic_base_url: str | None = None
    anthropic_api_key: str | None = None  # falls back to $ANTHROPIC_API_KEY
    deepseek_base_url: str = "https://api.deepseek.com"
    vllm_base_url: str = "http://127.0.0.1:8001/v1"
    planner_base_url: str = "http://127.0.0.1:8000/v1"
    timeout_s: float = 120.0
    max_retries: int = Field(default=4, ge=0, le=20)
    # embedded model: engine "auto" picks llama.cpp when installed, else transformers
    embedded_engine: Literal["auto", "llama_cpp", "transformers", "vllm"] = "auto"
    embedded_model_path: str | None = None  # a GGUF file or HF model dir; None: SmolLM2
    embedded_threads: int = Field(default=2, ge=1)


class Budgets(BaseModel):
    max_tokens: int = Field(default=2_000_000, ge=1)
    max_cost_usd: float = Field(default=5.0, ge=0)
    max_wall_s: float = Field(default=6 * 3600, gt=0)
    structured_retries: int = Field(default=2, ge=0, le=10)
    react_steps: int = Field(default=4, ge=1, le=50)
    hypotheses: int = Field(default=3, ge=1, le=20)
    blueprint_rounds: int = Field(default=2, ge=1, le=20)
    debug_attempts: int = Field(default=3, ge=0, le=50)
    latex_fix_attempts: int = Field(default=2, ge=0, le=20)
    review_rounds: int = Field(default=1, ge=0, le=20)
    reviewers: int = Field(default=2, ge=1, le=10)
    review_threshold: float = Field(default=6.0, ge=1, le=10)


class StorageSettings(BaseModel):
    backend: Literal["edge", "local", "server"] = "edge"
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    embedder: Literal["minilm", "hash"] = "minilm"
    skill_cap_per_scope: int = Field(default=500, ge=1)
    memory_cap_per_scope: int = Field(default=2000, ge=1)


class ExecutionSettings(BaseModel):
    backend: Literal["sandbox", "ray", "slurm", "local"] = "sandbox"
    timeout_s: float = Field(default=600, gt=0)
    memory_mb: int = Field(default=2048, ge=128)
    cpus: int = Field(default=1, ge=1)
    ray_address: str | None = None
    slurm_partition: str | None = None
    # UNSAFE: lets backend=local run model-written code on the host, uncontained
    allow_unsandboxed: bool = False
    # refuse to run where no cgroup can be made (else rlimits only, said in the run's notes)
    require_cgroup: bool = False


class LiteratureSettings(BaseModel):
    # online first when reachable (probed once per process; unreachable ones are dropped
    # with one log line), then the shipped offline library
    sources: list[Literal["local", "openalex", "arxiv", "semantic_scholar"]] = [
        "openalex", "arxiv", "semantic_scholar", "local"]
    library_path: str = Field(default_factory=_default_library)
    user_library: str | None = None  # BibTeX or JSONL of the user's own papers
    semantic_scholar_api_key: str | None = None
    mailto: str | None = None  # OpenAlex polite pool
    base_urls: dict[str, str] = Field(default_factory=dict)  # source -> mirror URL (tests, proxies)
    max_results: int = Field(default=20, ge=1, le=200)


class QuotaSettings(BaseModel):
    """Per-user limits of the HTTP API (429 when reached); 0 turns one off."""
    max_active_projects: int = Field(default=2, ge=0, description="created/running/waiting at once")
    max_projects_per_day: int = Field(default=20, ge=0, description="new projects per 24 h")
    max_spend_usd: float = Field(default=20.0, ge=0, description="hosted-model spend over all projects")
    max_trainings_per_day: int = Field(default=10, ge=0, description="feedback-triggered SDPO runs per 24 h")
    max_topic_chars: int = Field(default=4000, ge=100, description="problem statement length")
    max_body_bytes: int = Field(default=2_000_000, ge=10_000, description="any request body")


class ServeSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    planner_engine: Literal["auto", "transformers", "vllm"] = "auto"
    train_in_background: bool = True
    quotas: QuotaSettings = Field(default_factory=QuotaSettings)
    # Ray resources of the planner replica, e.g. {"GPU": 1, "planner": 1}; None: decided
    # from what the cluster offers (a `planner` node, else a GPU, else one CPU)
    planner_resources: dict[str, float] | None = None


class TrainingSettings(BaseModel):
    """The planner's SDPO rounds. `profile` picks the recipe (cpu: small LoRA, short
    sequences; gpu: the seed paper's r16 attention+MLP recipe; auto: gpu when CUDA is
    visible); the other fields, when set, override that recipe's value."""
    profile: Literal["auto", "cpu", "gpu"] = "auto"
    steps: int | None = Field(default=None, ge=1)
    batch_size: int | None = Field(default=None, ge=1)
    lora_r: int | None = Field(default=None, ge=1)
    learning_rate: float | None = Field(default=None, gt=0, lt=1)
    max_prompt_tokens: int | None = Field(default=None, ge=8)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    loss: Literal["sampled_token", "full_kl", "topk_kl"] | None = None
    replay: Literal["all", "latest"] | None = None
    on_policy: bool | None = None  # re-sample y from the current planner each step
    # Ray resources per Train worker, e.g. {"GPU": 1, "trainer": 1}; None: decided from the
    # cluster (a `trainer` node's GPUs, else any GPU, else one CPU worker)
    resources: dict[str, float] | None = None
    num_workers: int | None = Field(default=None, ge=1)

    def overrides(self) -> dict:
        placement = {"profile", "resources", "num_workers"}  # where it runs, not the recipe
        return {k: v for k, v in self.model_dump().items() if k not in placement and v is not None}


class ClusterSettings(BaseModel):
    """How the agents are placed on Ray. `agent_resources` overrides an agent's declared
    request (nanoresearch/agents.py), e.g. {"coding": {"CPU": 2, "experiment": 1}}."""
    agent_resources: dict[str, dict[str, float]] = Field(default_factory=dict)
    # a custom resource the CPU nodes advertise (cluster.yaml: "agent"); every agent and
    # orchestrator actor asks for a sliver of it, so none lands on a planner/trainer node
    agent_node_resource: str | None = None


class CodeSearchSettings(BaseModel):
    """Tree search over code drafts (freeform mode): `drafts` first codebases, then up to
    `depth` rounds that debug a broken node or improve the best one; `parallel` nodes run
    at once (1: in-process, no Ray)."""
    drafts: int = Field(default=1, ge=1, le=32)
    depth: int = Field(default=0, ge=0, le=32)
    parallel: int = Field(default=1, ge=1, le=64)
    max_minutes: float | None = Field(default=None, gt=0)  # no new nodes start after this


class CodingSettings(BaseModel):
    """Stage II coding mode. auto: the coding model's declared capability picks it
    (small -> seeded scaffold, strong -> freeform); method: the scaffold keeps data,
    splits, seeds and evaluation and the model writes the method; freeform: the model
    writes the whole codebase against the harness contract."""
    mode: Literal["auto", "seeded", "method", "freeform"] = "auto"
    search: CodeSearchSettings = Field(default_factory=CodeSearchSettings)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NANORESEARCH_", env_nested_delimiter="__",
                                      extra="forbid")

    data_dir: Path = Field(default_factory=_default_data_dir)
    models: ModelRouting = Field(default_factory=ModelRouting)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    # USD per 1M tokens: {"openai:gpt-4o-mini": [0.15, 0.60]}; unknown models cost 0
    prices: dict[str, tuple[float, float]] = Field(default_factory=dict)
    budgets: Budgets = Field(default_factory=Budgets)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    literature: LiteratureSettings = Field(default_factory=LiteratureSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    feedback: Literal["interactive", "skip", "simulated", "http"] = "skip"
    coding: CodingSettings = Field(default_factory=CodingSettings)
    # how long a stage gate waits for feedback with `feedback: http` (then goes on)
    feedback_wait_s: float = Field(default=900.0, ge=0)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        # init (CLI overrides + YAML, merged in `load`) < env is wrong for the CLI, so
        # `load` passes overrides last itself; here env outranks the YAML (init).
        return (env_settings, init_settings)

    # ---------------------------------------------------------------- paths
    @property
    def projects_dir(self) -> Path:
        return self.data_dir / "projects"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def adapters_dir(self) -> Path:
        return self.data_dir / "adapters"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


def _set_dotted(d: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = value


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """['budgets.max_cost_usd=2', 'models.default=openai:gpt-4o'] -> nested dict; values
    are parsed as YAML scalars so numbers and booleans keep their types."""
    out: dict[str, Any] = {}
    for p in pairs:
        if "=" not in p:
            raise ConfigError(f"override {p!r} must look like section.field=value")
        k, v = p.split("=", 1)
        _set_dotted(out, k.strip(), yaml.safe_load(v))
    return out


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_settings(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    path = path or os.environ.get("NANORESEARCH_CONFIG")
    file_data: dict[str, Any] = {}
    if path is None:
        cand = _default_data_dir() / "config.yaml"
        path = cand if cand.exists() else None
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise ConfigError(f"config file {p} does not exist; create it or drop --config")
        try:
            file_data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {p} is not valid YAML: {e}") from None
        if not isinstance(file_data, dict):
            raise ConfigError(f"config file {p} must hold a mapping of sections")
    try:
        base = Settings(**file_data)
        if overrides:
            # model_validate skips the env source, so CLI overrides outrank the environment
            base = Settings.model_validate(_deep_merge(base.model_dump(), overrides))
        return base
    except ValidationError as e:
        lines = []
        for err in e.errors():
            field = ".".join(str(x) for x in err["loc"])
            lines.append(f"  {field}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines) +
                          "\nfix these fields in the YAML file, environment or --set overrides") from None
