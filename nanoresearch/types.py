"""Every artifact and message that crosses a component boundary, as pydantic models.

One Ray-free module: agents, stores, the planner, the trainer and the HTTP API all speak
these types. Each model carries a `kind` literal (so a union can be discriminated when it
is read back from JSON) and a `schema_version` (so a workspace written by an older
release can be recognised and migrated instead of silently misread).
"""
from __future__ import annotations

import re
import time
import uuid
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1


def new_id(prefix: str = "") -> str:
    """Short random id; the prefix makes logs and file names readable."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def now() -> float:
    return time.time()


class Artifact(BaseModel):
    """Base of every typed artifact: versioned, tolerant of unknown keys on read."""

    model_config = ConfigDict(extra="ignore", use_enum_values=False)
    schema_version: int = SCHEMA_VERSION


# --------------------------------------------------------------------------- enums
class Phase(str, Enum):
    """The three stages of a research cycle; user feedback arrives once per phase."""

    IDEATION = "ideation"  # Stage I: literature, hypothesis, blueprint
    EXPERIMENT = "experiment"  # Stage II: setup, code, run, debug, analyse
    WRITING = "writing"  # Stage III: paper, review, revision


class SkillStage(str, Enum):
    LITERATURE = "literature"
    PLANNING = "planning"
    CODING = "coding"
    DEBUGGING = "debugging"
    EXPERIMENT = "experiment"
    WRITING = "writing"
    REVIEW = "review"


class RunStatus(str, Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # non-zero exit with a traceback or error output
    TIMEOUT = "timeout"
    OOM = "oom"
    KILLED = "killed"
    NO_METRICS = "no_metrics"  # exited 0 but wrote no valid metrics JSON


class StepStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class ProjectStatus(str, Enum):
    CREATED = "created"
    RUNNING = "running"
    WAITING_FEEDBACK = "waiting_feedback"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    BUDGET_EXCEEDED = "budget_exceeded"


# --------------------------------------------------------------------------- LLM I/O
class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Completion(BaseModel):
    text: str
    model: str = ""
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str = "stop"
    latency_s: float = 0.0


# --------------------------------------------------------------------------- users
class Resources(BaseModel):
    gpus: int = 0
    cpus: int = 2
    hours: float = 1.0
    money_usd: float = 0.0


class UserProfile(Artifact):
    kind: Literal["user_profile"] = "user_profile"
    user_id: str
    name: str = ""
    research_field: str = ""
    resources: Resources = Field(default_factory=Resources)
    methodological_preferences: list[str] = Field(default_factory=list)
    target_venue: str = ""
    paper_format: Literal["conference", "journal"] = "conference"
    writing_style: str = ""
    notes: str = ""
    version: int = 1
    updated_at: float = Field(default_factory=now)


class ResearchTopic(Artifact):
    """A research task, in exactly the benchmark schema (see benchmarks/tasks/)."""

    kind: Literal["research_topic"] = "research_topic"
    question_id: str = Field(default_factory=lambda: new_id("q-"))
    domain: str = "general"
    difficulty: str = "medium"
    background: str = ""
    problem_statement: str
    baselines: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    user_requirements: list[str] = Field(default_factory=list)
    extra_context: str = ""


class Feedback(Artifact):
    kind: Literal["feedback"] = "feedback"
    feedback_id: str = Field(default_factory=lambda: new_id("fb-"))
    user_id: str
    project_id: str
    phase: Phase
    text: str
    source: Literal["cli", "http", "web", "simulated", "skip"] = "cli"
    created_at: float = Field(default_factory=now)


# --------------------------------------------------------------------------- planner
class Plan(Artifact):
    """The planner's high-level plan before a task, plus what it chose to use."""

    kind: Literal["plan"] = "plan"
    call_id: str = Field(default_factory=lambda: new_id("pc-"))
    user_id: str = ""
    project_id: str = ""
    stage: str = ""
    task: str = ""
    selected_skill_ids: list[str] = Field(default_factory=list)
    selected_memory_ids: list[str] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)
    rationale: str = ""
    adapter_version: str | None = None
    # who answered: "serve" (the Serve replica), "local" (the in-process engine while the
    # replica starts), "" for a direct client (tests, --no-ray)
    made_by: str = ""


class PlannerCall(Artifact):
    """One logged planner call: its exact prompt and output, kept so that later
    feedback can be turned into SDPO training triples (x, y, o)."""

    kind: Literal["planner_call"] = "planner_call"
    call_id: str
    user_id: str
    project_id: str = ""
    stage: str = ""
    messages: list[ChatMessage]
    output: str
    adapter_version: str | None = None
    created_at: float = Field(default_factory=now)


# --------------------------------------------------------------------------- Stage I
class LiteratureRecord(Artifact):
    kind: Literal["literature_record"] = "literature_record"
    id: str  # stable: "arxiv:2106.01234", "doi:10.x/y", "openalex:W123", "s2:abc"
    title: str
    abstract: str = ""
    authors: list[str] = Field(default_factory=list)
    year: int | None = None
    venue: str = ""
    url: str = ""
    categories: list[str] = Field(default_factory=list)
    source: Literal["local", "arxiv", "openalex", "semantic_scholar", "user"] = "local"
    score: float = 0.0


class Evidence(Artifact):
    """A number parsed from a paper; it exists only with its source span."""

    kind: Literal["evidence"] = "evidence"
    id: str = Field(default_factory=lambda: new_id("ev-"))
    paper_id: str
    method: str = ""
    dataset: str = ""
    metric: str = ""
    value: float
    setting: str = ""
    span: str = Field(min_length=1)
    extractor: Literal["rule", "llm"] = "rule"


class NoveltyVerdict(BaseModel):
    novel: bool
    score: float = Field(ge=0.0, le=1.0)  # 1 = nothing close
    closest_paper_id: str | None = None
    closest_similarity: float = 0.0
    rationale: str = ""


class Hypothesis(Artifact):
    kind: Literal["hypothesis"] = "hypothesis"
    id: str = Field(default_factory=lambda: new_id("hy-"))
    statement: str
    motivation: str = ""
    expected_effect: str = ""
    evidence_ids: list[str] = Field(default_factory=list)
    risk: str = ""
    novelty: NoveltyVerdict | None = None
    feasibility: float = 0.5
    alignment: float = 0.5
    score: float = 0.0


class DatasetSpec(BaseModel):
    name: str  # a catalog name when offline
    split: str = "default"
    notes: str = ""


def method_name(v: str) -> str:
    """"A ridge regression on lags" (a hypothesis' noun phrase) names "ridge regression on
    lags": an article is not part of a method's name (it would open table rows and read
    "with A ridge regression" in prose). Applied to the blueprint's methods and to every
    metric record, so names written before this rule still match."""
    return re.sub(r"^(?i:a|an|the)\s+(?=[a-z])", "", v.strip()) or v


class MethodSpec(BaseModel):
    name: str
    description: str = ""

    @field_validator("name")
    @classmethod
    def _no_article(cls, v: str) -> str:
        return method_name(v)


class ComputeBudget(BaseModel):
    cpus: int = 1
    gpus: int = 0
    minutes: float = 10.0
    memory_mb: int = 2048


class Blueprint(Artifact):
    kind: Literal["blueprint"] = "blueprint"
    project_id: str = ""
    hypothesis_id: str = ""
    title: str
    domain: str = "general"
    datasets: list[DatasetSpec]
    baselines: list[MethodSpec]
    proposed_method: MethodSpec
    metrics: list[str]
    primary_metric: str
    ablations: list[MethodSpec] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    compute_budget: ComputeBudget = Field(default_factory=ComputeBudget)
    version: int = 1
    design: "DesignSpec | None" = None  # how the experiment answers the question (planning_design)
    # perturbed test sets a standing requirement adds beside the design, in the design's
    # level form ("gaussian noise (level 1)", "shift (level 1)"): scored, never trained on
    stress_tests: list[str] = Field(default_factory=list)
    resolved_inputs: list[str] = Field(default_factory=list)  # "'Time Series' -> timeseries (domain)"


class DesignSpec(BaseModel):
    """The experiment's form, derived from the question as a statistician would."""

    kind: Literal["comparison", "factorial", "ablation", "scaling", "robustness", "capacity"] = "comparison"
    methods: list[str] = Field(default_factory=list)  # methods the question names
    factor: str = ""  # the intervention (factorial), component (ablation), axis (scaling/robustness)
    levels: list[str] = Field(default_factory=list)  # e.g. ["without standardisation", "with ..."]
    arms: list[str] = Field(default_factory=list)  # every run configuration, method x level
    metrics: list[str] = Field(default_factory=list)  # metrics the question or requirements name
    rationale: str = ""  # why this form: the words of the question that decided it
    unrealised: list[str] = Field(default_factory=list)  # parts the offline scaffolds cannot run


class CritiqueIssue(BaseModel):
    category: Literal[
        "infeasible", "unfair_comparison", "dataset_unavailable", "over_budget",
        "missing_ablation", "missing_baseline", "unclear_metric", "other", "off_question",
    ]
    severity: Literal["minor", "major"] = "major"
    message: str


class Critique(Artifact):
    kind: Literal["critique"] = "critique"
    round: int = 1
    passed: bool
    issues: list[CritiqueIssue] = Field(default_factory=list)
    summary: str = ""


# --------------------------------------------------------------------------- Stage II
class CodeArtifact(Artifact):
    kind: Literal["code_artifact"] = "code_artifact"
    files: dict[str, str]  # relative path -> content
    entrypoint: str = "run.py"
    mode: Literal["seeded", "free", "method"] = "seeded"
    version: int = 1


class MetricRecord(BaseModel):
    """The fixed schema of one line of an experiment's metrics JSON: nothing else
    counts as a result."""

    method: str
    dataset: str
    metric: str
    value: float
    seed: int = 0
    split: str = "test"

    @field_validator("method")
    @classmethod
    def _method_name(cls, v: str) -> str:
        return method_name(v)


class FailureInfo(BaseModel):
    category: Literal["exception", "timeout", "oom", "missing_metrics", "killed", "sandbox",
                      "contract"]
    message: str
    traceback: str = ""
    file: str | None = None
    line: int | None = None


class RunResult(Artifact):
    kind: Literal["run_result"] = "run_result"
    run_id: str = Field(default_factory=lambda: new_id("run-"))
    backend: Literal["sandbox", "ray", "slurm", "local"] = "sandbox"
    status: RunStatus
    exit_code: int | None = None
    duration_s: float = 0.0
    stdout_tail: str = ""
    stderr_tail: str = ""
    metrics: list[MetricRecord] = Field(default_factory=list)
    failure: FailureInfo | None = None
    artifacts: list[str] = Field(default_factory=list)  # paths relative to the work dir
    attempt: int = 1


class Comparison(BaseModel):
    method: str
    baseline: str
    dataset: str
    metric: str
    mean: float
    std: float = 0.0
    baseline_mean: float
    baseline_std: float = 0.0
    n_seeds: int = 1
    delta: float
    p_value: float | None = None


class FigureRef(BaseModel):
    path: str  # relative to the project workspace
    caption: str
    label: str


class AnalysisReport(Artifact):
    kind: Literal["analysis_report"] = "analysis_report"
    summary: str
    comparisons: list[Comparison] = Field(default_factory=list)
    figures: list[FigureRef] = Field(default_factory=list)
    verdict: Literal["supported", "refuted", "inconclusive"] = "inconclusive"
    notes: list[str] = Field(default_factory=list)
    metrics_path: str = ""


# --------------------------------------------------------------------------- Stage III
class Section(BaseModel):
    name: str
    latex: str


class PaperDraft(Artifact):
    kind: Literal["paper_draft"] = "paper_draft"
    title: str
    abstract: str = ""
    sections: list[Section] = Field(default_factory=list)
    bib_keys: list[str] = Field(default_factory=list)
    tex_path: str = ""
    pdf_path: str | None = None
    compiled: bool = False
    round: int = 0
    problems: list[str] = Field(default_factory=list)


class Review(Artifact):
    kind: Literal["review"] = "review"
    reviewer_id: str = "r1"
    summary: str = ""
    strengths: list[str] = Field(default_factory=list)
    weaknesses: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    soundness: int = Field(default=5, ge=1, le=10)
    presentation: int = Field(default=5, ge=1, le=10)
    contribution: int = Field(default=5, ge=1, le=10)
    overall: int = Field(default=5, ge=1, le=10)
    confidence: int = Field(default=3, ge=1, le=5)
    revision_requests: list[str] = Field(default_factory=list)
    is_meta: bool = False
    round: int = 1


# --------------------------------------------------------------------------- storage
class SkillEntry(Artifact):
    kind: Literal["skill"] = "skill"
    id: str = Field(default_factory=lambda: new_id("sk-"))
    version: int = 1
    stage: SkillStage
    domain: str = "general"
    trigger: str = ""
    name: str
    when_to_use: str = ""
    instructions: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    scope: str = "global"  # "global" or a user id
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    usage_count: int = 0
    success_count: int = 0
    failure_count: int = 0
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)
    last_used_at: float | None = None
    source_trajectory_id: str | None = None


class MemoryEntry(Artifact):
    kind: Literal["memory"] = "memory"
    id: str = Field(default_factory=lambda: new_id("mem-"))
    user_id: str
    project_id: str | None = None  # None: bound to the user, not one project
    category: Literal[
        "preference", "resource_limit", "decision", "hypothesis", "validated_config",
        "failed_direction", "outcome", "fact", "requirement",
    ] = "fact"
    content: str
    conditions: dict[str, str] = Field(default_factory=dict)  # topic, domain, dataset, method, budget...
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    support_count: int = 0
    contradiction_count: int = 0
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)
    last_accessed_at: float | None = None
    source_trajectory_id: str | None = None
    # a requirement's verifiable form (storage/requirements.py): which artifact must show what
    form: dict[str, str] = Field(default_factory=dict)


class TrajectoryEvent(BaseModel):
    step: str
    action: str
    outcome: str = ""
    ok: bool = True
    detail: dict[str, Any] = Field(default_factory=dict)


class Trajectory(Artifact):
    """What happened in one stage, fed to the reflection step that distills skills and
    memories."""

    kind: Literal["trajectory"] = "trajectory"
    id: str = Field(default_factory=lambda: new_id("tr-"))
    user_id: str
    project_id: str
    phase: Phase
    domain: str = "general"
    topic: str = ""
    events: list[TrajectoryEvent] = Field(default_factory=list)
    # the task's conditions (domain, dataset, task, method, metric...): skill tags and
    # memory conditions of what this trajectory distills
    conditions: dict[str, str] = Field(default_factory=dict)


class AdapterVersion(Artifact):
    kind: Literal["adapter_version"] = "adapter_version"
    user_id: str
    version: int
    path: str
    checksum: str
    parent_version: int | None = None
    base_model: str = ""
    metrics: dict[str, float] = Field(default_factory=dict)
    status: Literal["training", "published", "retired", "failed"] = "training"
    created_at: float = Field(default_factory=now)


# --------------------------------------------------------------------------- bookkeeping
class StepRecord(BaseModel):
    name: str
    status: StepStatus = StepStatus.PENDING
    artifacts: list[str] = Field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None


class StageManifest(Artifact):
    kind: Literal["stage_manifest"] = "stage_manifest"
    project_id: str
    phase: Phase
    steps: list[StepRecord] = Field(default_factory=list)
    status: StepStatus = StepStatus.PENDING
    updated_at: float = Field(default_factory=now)


class LedgerEntry(Artifact):
    kind: Literal["ledger_entry"] = "ledger_entry"
    call_id: str = Field(default_factory=lambda: new_id("call-"))
    agent: str = ""
    provider: str = ""
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    created_at: float = Field(default_factory=now)


# --------------------------------------------------------------------------- stage results
class DatasetCard(Artifact):
    """One entry of the offline dataset catalog (nanoresearch/datasets/)."""

    kind: Literal["dataset_card"] = "dataset_card"
    name: str  # catalog key, used in blueprints
    domain: Literal["nlp", "cv", "multimodal", "tabular", "timeseries", "graph", "audio"]
    task: str  # "classification", "regression", "forecasting", "node_classification", ...
    source: str  # where it comes from offline: "sklearn", "statsmodels", "debian:dataset-fashion-mnist"...
    size: str = ""  # human readable: "1797 samples x 64 features"
    n_samples: int | None = None
    targets: str = ""  # classes or target description
    license: str = ""
    default_metric: str = "accuracy"
    description: str = ""
    # named column ranges [start, end) of X an arm can select by naming them
    # ("SVM on cepstrum means"); empty for most datasets
    feature_blocks: dict[str, list[int]] = Field(default_factory=dict)


class IdeationResult(Artifact):
    kind: Literal["ideation_result"] = "ideation_result"
    papers: list[LiteratureRecord] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    selected_hypothesis_id: str | None = None
    react_trace: list[dict[str, Any]] = Field(default_factory=list)

    def selected(self) -> Hypothesis | None:
        return next((h for h in self.hypotheses if h.id == self.selected_hypothesis_id), None)


class PlanningResult(Artifact):
    kind: Literal["planning_result"] = "planning_result"
    blueprint: Blueprint
    critiques: list[Critique] = Field(default_factory=list)
    passed: bool = False


class ExperimentResult(Artifact):
    kind: Literal["experiment_result"] = "experiment_result"
    code: CodeArtifact
    runs: list[RunResult] = Field(default_factory=list)
    analysis: AnalysisReport | None = None
    succeeded: bool = False


class WritingResult(Artifact):
    kind: Literal["writing_result"] = "writing_result"
    draft: PaperDraft
    reviews: list[Review] = Field(default_factory=list)  # every round, meta-reviews included
    pdf_path: str | None = None
    rounds: int = 0


class ProjectState(Artifact):
    """A project's top-level record (project.json in its workspace)."""

    kind: Literal["project_state"] = "project_state"
    project_id: str
    user_id: str
    topic: ResearchTopic
    status: ProjectStatus = ProjectStatus.CREATED
    phase: Phase | None = None
    waiting_feedback_for: Phase | None = None
    error: str | None = None
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)
    feedback_deadline: float | None = None  # epoch seconds the stage gate waits until


AnyArtifact = Annotated[
    Union[
        UserProfile, ResearchTopic, Feedback, Plan, PlannerCall, LiteratureRecord, Evidence,
        Hypothesis, Blueprint, Critique, CodeArtifact, RunResult, AnalysisReport,
        PaperDraft, Review, SkillEntry, MemoryEntry, Trajectory, AdapterVersion,
        StageManifest, LedgerEntry, DatasetCard, IdeationResult, PlanningResult,
        ExperimentResult, WritingResult, ProjectState,
    ],
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- Stage II coding
class RunRecordMetrics(BaseModel):
    """One (dataset, method, seed) cell of a freeform run's metrics.json `runs` list."""

    model_config = ConfigDict(extra="forbid")
    dataset: str
    method: str
    seed: int
    split: Literal["validation", "test"]
    metrics: dict[str, float]
    runtime_s: float = Field(ge=0)
    peak_memory_mb: float = Field(ge=0)


class MetricsFile(BaseModel):
    """The harness contract's metrics.json: `metrics` (flat MetricRecord list, what every
    backend reads) and `runs` (per dataset/method/seed values, runtime and peak memory),
    checked against each other after the run."""

    model_config = ConfigDict(extra="ignore")
    metrics: list[MetricRecord]
    runs: list[RunRecordMetrics]


class CodingNotes(Artifact):
    """experiment/code/coding_notes.json: which coding mode ran, why, and where the method
    code came from (model, scaffold default, fallback); the paper reads it."""

    kind: Literal["coding_notes"] = "coding_notes"
    mode: Literal["seeded", "method", "free"]
    requested_mode: str = "auto"
    capability: Literal["small", "strong"] = "small"
    model: str = ""
    why: str = ""
    fallback: str = ""  # non-empty when the mode actually run differs from the chosen one
    method_source: str = ""
    method_family: str = ""  # the scaffold family that ran (seeded / method modes)
    domain: str = ""
    task: str = ""
    datasets: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    # arm -> the one change it makes to the proposed method ("w/o standardize", "with word
    # unigrams"): what the blueprint's ablations ran as, a baseline that is such a variant included
    ablation_arms: dict[str, str] = Field(default_factory=dict)


class SearchNode(BaseModel):
    node_id: int
    parent: int | None = None
    operator: Literal["draft", "debug", "improve"]
    status: Literal["pending", "good", "buggy"] = "pending"
    failure_class: str = ""
    message: str = ""
    val_score: float | None = None  # primary metric on the validation split (never test)
    diff: str = ""  # against the parent (drafts: empty)
    summary: str = ""
    duration_s: float = 0.0  # every debug attempt is a node: its diff, outcome and duration
    files: dict[str, str] = Field(default_factory=dict)


class SearchTree(Artifact):
    """experiment/tree.json: every node of the code search and the one selected."""

    kind: Literal["search_tree"] = "search_tree"
    primary_metric: str
    higher_is_better: bool = True
    selection_split: str = "validation"
    nodes: list[SearchNode] = Field(default_factory=list)
    best: int | None = None
    parallel: int = 1
    executor: str = "in-process"
    wall_s: float = 0.0
    stopped: str = ""  # why the search ended early (time budget), empty when the budget of nodes ran


# --------------------------------------------------------------------------- project status
class ProjectSummary(Artifact):
    """One row of a user's project list; built from project.json (the one store of truth)."""

    kind: Literal["project_summary"] = "project_summary"
    project_id: str
    user_id: str
    title: str = ""
    status: ProjectStatus = ProjectStatus.CREATED
    phase: Phase | None = None
    waiting_feedback_for: Phase | None = None
    created_at: float | None = None
    updated_at: float | None = None

    @classmethod
    def of(cls, st: ProjectState) -> "ProjectSummary":
        return cls(project_id=st.project_id, user_id=st.user_id,
                   title=st.topic.problem_statement[:120], status=st.status, phase=st.phase,
                   waiting_feedback_for=st.waiting_feedback_for, created_at=st.created_at,
                   updated_at=st.updated_at)


# --------------------------------------------------------------------------- progress events
class _Event(BaseModel):
    """A progress event of a running project, appended to its workspace's events.jsonl."""

    schema_version: int = SCHEMA_VERSION
    at: float = Field(default_factory=now)
    phase: Phase | None = None


class PhaseStarted(_Event):
    kind: Literal["phase_started"] = "phase_started"


class PhaseFinished(_Event):
    kind: Literal["phase_finished"] = "phase_finished"


class PhaseSkipped(_Event):
    kind: Literal["phase_skipped"] = "phase_skipped"


class StepStarted(_Event):
    kind: Literal["step_started"] = "step_started"
    step: str


class StepFinished(_Event):
    kind: Literal["step_finished"] = "step_finished"
    step: str
    status: StepStatus = StepStatus.DONE
    duration_s: float | None = None
    error: str | None = None


class StepSkipped(_Event):
    kind: Literal["step_skipped"] = "step_skipped"
    step: str


class RunOutput(_Event):
    """The tail of a running experiment's output (the newest lines)."""

    kind: Literal["run_output"] = "run_output"
    run_id: str = ""
    attempt: int = 1
    stream: Literal["stdout", "stderr"] = "stdout"
    tail: str = ""


class TokenRate(_Event):
    """Throughput of the current (or last) model generation."""

    kind: Literal["token_rate"] = "token_rate"
    agent: str = ""
    model: str = ""
    completion_tokens: int = 0
    tokens_per_s: float = 0.0


class FeedbackWaiting(_Event):
    kind: Literal["feedback_waiting"] = "feedback_waiting"
    deadline: float | None = None  # epoch seconds; None: waits until answered


class FeedbackReceived(_Event):
    kind: Literal["feedback_received"] = "feedback_received"
    text: str = ""


class ProjectFinished(_Event):
    kind: Literal["project_finished"] = "project_finished"
    status: ProjectStatus
    error: str | None = None


class LlmCall(_Event):
    """One finished model generation (from the cost ledger): tokens and tokens/s."""

    kind: Literal["llm_call"] = "llm_call"
    agent: str = ""
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_s: float = 0.0
    tokens_per_s: float | None = None


class LiteratureSearched(_Event):
    """One literature source answered one query: records it returned, records kept."""

    kind: Literal["literature_searched"] = "literature_searched"
    source: str
    query: str = ""
    scanned: int = 0
    kept: int = 0
    duration_s: float | None = None
    error: str | None = None


class RunStarted(_Event):
    kind: Literal["run_started"] = "run_started"
    run_id: str
    attempt: int = 1
    backend: str = ""


class RunFinished(_Event):
    kind: Literal["run_finished"] = "run_finished"
    run_id: str
    attempt: int = 1
    status: RunStatus
    duration_s: float | None = None
    exit_code: int | None = None


class LatexPass(_Event):
    """latexmk started one pass of a rule (pdflatex, bibtex) while compiling the paper."""

    kind: Literal["latex_pass"] = "latex_pass"
    rule: str
    run: int = 1
    elapsed_s: float = 0.0


class TrainingStep(_Event):
    """One SDPO optimizer step of a planner-adapter round."""

    kind: Literal["training_step"] = "training_step"
    user_id: str = ""
    step: int
    steps: int = 0
    loss: float


class CodingMode(_Event):
    kind: Literal["coding_mode"] = "coding_mode"
    mode: str
    why: str = ""


ProgressEvent = Annotated[
    Union[PhaseStarted, PhaseFinished, PhaseSkipped, StepStarted, StepFinished, StepSkipped,
          RunOutput, TokenRate, FeedbackWaiting, FeedbackReceived, ProjectFinished,
          LlmCall, LiteratureSearched, RunStarted, RunFinished, LatexPass, TrainingStep,
          CodingMode],
    Field(discriminator="kind"),
]

# the orchestrator's callback names (on_event(kind, data)) -> the typed event's kind
LEGACY_EVENT_KINDS = {"phase_start": "phase_started", "phase_done": "phase_finished",
                      "step_start": "step_started", "step_done": "step_finished",
                      "feedback": "feedback_received", "waiting_feedback": "feedback_waiting"}


class ProjectStatusReport(Artifact):
    """Everything the API, CLI and page show about a project's progress; built by the
    service from project.json, the stage manifests and events.jsonl."""

    kind: Literal["project_status_report"] = "project_status_report"
    project_id: str
    user_id: str = ""
    status: ProjectStatus
    phase: Phase | None = None
    phase_status: dict[Phase, StepStatus] = Field(default_factory=dict)
    manifests: dict[Phase, list[StepRecord]] = Field(default_factory=dict)
    waiting_feedback_for: Phase | None = None
    feedback_deadline: float | None = None
    topic: ResearchTopic | None = None
    has_pdf: bool = False
    error: str | None = None
    updated_at: float | None = None
    events: list[ProgressEvent] = Field(default_factory=list)  # the newest, oldest first


class RunsRecord(Artifact):
    """experiment/runs.json: the final code and every run attempt (1..n)."""

    kind: Literal["runs_record"] = "runs_record"
    code: CodeArtifact
    runs: list[RunResult] = Field(default_factory=list)


class KnowledgeView(Artifact):
    """What the system knows about one user, as the knowledge panel shows it."""

    kind: Literal["knowledge_view"] = "knowledge_view"
    requirements: list[MemoryEntry] = Field(default_factory=list)  # what the user asked for
    memories: list[MemoryEntry] = Field(default_factory=list)  # what the system learned
    skills: list[SkillEntry] = Field(default_factory=list)  # the user's own skills
    shared_skills: list[SkillEntry] = Field(default_factory=list)  # global skills they can use
    adapters: list[AdapterVersion] = Field(default_factory=list)  # the planner LoRA's versions
    current_adapter: int | None = None  # the version served to them (None: the base model)


class PlanBundle(Artifact):
    """<phase>/plan_<stage>.json: a planner call's result with the skills and memories it
    was given and chose. `cited_*`: the ids the plan actually names (selected or mentioned
    in its text): only these count as used. `feedback`: the user's feedback so far in this
    project, which went into the retrieval query and the planner's task."""

    kind: Literal["plan_bundle"] = "plan_bundle"
    plan: Plan
    skills: list[SkillEntry] = Field(default_factory=list)
    memories: list[MemoryEntry] = Field(default_factory=list)
    cited_skills: list[str] = Field(default_factory=list)
    cited_memories: list[str] = Field(default_factory=list)
    feedback: str = ""


class DistillReport(Artifact):
    """<phase>/distill.json: what reflection distilled from the phase's trajectory and the
    store kept, and the skill ids whose use was counted."""

    kind: Literal["distill_report"] = "distill_report"
    skills: list[str] = Field(default_factory=list)
    memories: list[str] = Field(default_factory=list)
    used: list[str] = Field(default_factory=list)


class FeedbackRecord(Artifact):
    """<phase>/feedback.json: the feedback asked for at the end of a phase (None: none came)
    and the memories it became (requirements, a preference)."""

    kind: Literal["feedback_record"] = "feedback_record"
    feedback: Feedback | None = None
    memories: list[str] = Field(default_factory=list)


class SDPORound(Artifact):
    """One feedback-triggered SDPO round in the user's training history
    (`planner_log/<user>/rounds.jsonl`, training/history.py). `feedback_ids`: the feedback
    this round trains on for the first time; a feedback id consumed by a started or
    published round never triggers another (the CLI's `nanoresearch feedback` and the
    stage gate both see the same feedback). Replay of older triples is the recipe's
    business (`SDPOConfig.replay`), not a new trigger."""

    kind: Literal["sdpo_round"] = "sdpo_round"
    round_id: str = Field(default_factory=lambda: new_id("sr-"))
    user_id: str
    feedback_ids: list[str] = Field(default_factory=list)
    status: Literal["started", "published", "failed"] = "started"
    adapter_version: int | None = None
    error: str | None = None
    created_at: float = Field(default_factory=now)


class RequirementCheck(BaseModel):
    """One standing requirement (a user-bound requirement memory) checked against what a
    stage produced (storage/requirements.py)."""

    memory_id: str
    text: str
    form: dict[str, str]
    met: bool | None  # None: not checkable on this artifact yet
    evidence: str = ""
    enforced: bool = False  # the orchestrator changed the artifact to meet it


class RequirementsRecord(Artifact):
    """<phase>/requirements.json (the stage's checks) and requirements.json (every
    requirement with its last check) of a project."""

    kind: Literal["requirements_record"] = "requirements_record"
    checks: list[RequirementCheck] = Field(default_factory=list)

    @property
    def met(self) -> int:
        return sum(c.met is True for c in self.checks)


class PlannerUpdate(Artifact):
    """One row of a project's planner_updates.json: what became of an SDPO round its
    feedback triggered (`trained_by`: which path made the adapter, training/trained_by.py)."""

    kind: Literal["planner_update"] = "planner_update"
    status: Literal["published", "skipped", "failed"]
    user_id: str | None = None
    version: int | None = None
    trained_by: str | None = None
    why: str = ""
    error: str | None = None
