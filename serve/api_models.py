"""Request and response bodies of the HTTP API (pydantic; they make the OpenAPI spec).

Artifacts that already have a type in nanoresearch/types.py (UserProfile, ResearchTopic,
SkillEntry, MemoryEntry, StepRecord, Review, AdapterVersion) are returned as-is; the
models here only wrap them with what HTTP adds (ids, URLs, error bodies).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nanoresearch.types import Phase, ProjectStatusReport, Review
from nanoresearch.types import ProjectSummary as ProjectSummary  # noqa: F401  (re-exported)


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


# the service builds these typed models itself; the API returns them as they are
ProjectStatusOut = ProjectStatusReport


class ReviewRound(BaseModel):
    round: int
    reviews: list[Review] = Field(description="the reviewers' reviews, then the meta-review")


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


class AdapterRollback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_version: int | None = Field(default=None, ge=1, description=(
        "the version to serve; omitted: the current version's parent (or the base model)"))


class AdapterServed(BaseModel):
    current_version: int | None = Field(description="the version now served; null: the base model")


class Accepted(BaseModel):
    project_id: str
    action: str
    status: str
