"""Request and response bodies of the HTTP API (pydantic; they make the OpenAPI spec).

Artifacts that already have a type in nanoresearch/types.py (UserProfile, ResearchTopic,
SkillEntry, MemoryEntry, StepRecord, Review, AdapterVersion) are returned as-is; the
models here only wrap them with what HTTP adds (ids, URLs, error bodies).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nanoresearch.types import Phase, ProjectStatus, StepRecord, StepStatus


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer has this shape."""

    error: str = Field(description="machine-readable code, e.g. not_found, invalid_request")
    detail: str = Field(description="what went wrong and what to do about it")
    errors: list[dict[str, Any]] = Field(default_factory=list,
                                         description="per-field problems for invalid_request")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(description="1-64 letters, digits, '_', '.', '-'",
                         examples=["alice"], min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)


class UserCreated(BaseModel):
    user_id: str
    token: str = Field(description="bearer token; shown once, store it safely")


class Me(BaseModel):
    user_id: str
    has_profile: bool


class ProfileAnswers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Any] = Field(description="question id -> answer, see GET /profile/questions")


class ProjectCreated(BaseModel):
    project_id: str
    status_url: str


class ProjectSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    project_id: str
    status: str = ProjectStatus.CREATED.value
    title: str = ""
    created_at: float | None = None


class ProjectStatusOut(BaseModel):
    project_id: str
    status: ProjectStatus
    phase: Phase | None = None
    phase_status: dict[Phase, StepStatus] = Field(default_factory=dict)
    manifests: dict[Phase, list[StepRecord]] = Field(default_factory=dict)
    waiting_feedback_for: Phase | None = None
    topic: dict[str, Any] | None = None
    has_pdf: bool = False
    error: str | None = None


class ArtifactList(BaseModel):
    project_id: str
    artifacts: list[str]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phase: Phase = Field(description="the stage this feedback is about")
    text: str = Field(min_length=1, max_length=20_000,
                      description="free-form feedback; it trains this user's planner")


class FeedbackAccepted(BaseModel):
    feedback_id: str
    project_id: str
    phase: Phase


class Accepted(BaseModel):
    project_id: str
    action: str
    status: str
