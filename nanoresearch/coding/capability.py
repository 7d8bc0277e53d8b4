"""Which coding mode a model gets, from its declared capability.

    choice = choose_mode("auto", "embedded:smollm2", {})   # -> seeded, "declared small"
    choice = choose_mode("auto", "openai:gpt-4o", {})      # -> free (freeform)
Capability comes from `models.capabilities` (exact spec or glob, first match) and
otherwise from the provider: the embedded model and scripted replays are `small` (a
replay must declare itself strong), every hosted / served model is `strong`.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass

STRONG_PROVIDERS = ("openai", "deepseek", "vllm", "anthropic", "planner")
MODE_NAMES = {"seeded": "seeded", "method": "method", "freeform": "free"}


@dataclass(frozen=True)
class ModeChoice:
    mode: str  # "seeded" | "method" | "free" (CodeArtifact.mode)
    capability: str  # "small" | "strong"
    requested: str  # coding.mode as configured
    why: str
    model: str = ""

    def notes(self) -> dict[str, str]:
        """What the coding agent records in coding_notes.json."""
        return {"requested": self.requested, "capability": self.capability, "why": self.why,
                "model": self.model}


def capability_of(spec: str, declared: dict[str, str] | None = None) -> tuple[str, str]:
    """(capability, where it came from) for a `provider:model` spec."""
    declared = declared or {}
    if spec in declared:
        return declared[spec], f"models.capabilities[{spec!r}]"
    for pattern, cap in declared.items():
        if fnmatch.fnmatchcase(spec, pattern):
            return cap, f"models.capabilities[{pattern!r}]"
    provider = spec.partition(":")[0].strip().lower()
    if provider in STRONG_PROVIDERS:
        return "strong", f"default for provider {provider!r}"
    return "small", f"default for provider {provider!r}"


def choose_mode(requested: str, spec: str, declared: dict[str, str] | None = None) -> ModeChoice:
    """The mode to run. `auto` follows the capability (small -> seeded, strong ->
    freeform); an explicit mode is honoured and the why says when it exceeds what the
    model declared, so a weak model in freeform is a visible choice, never an accident."""
    cap, source = capability_of(spec, declared)
    if requested == "auto":
        mode = "free" if cap == "strong" else "seeded"
        why = f"auto: {spec} is declared {cap} ({source}) -> {'freeform' if mode == 'free' else 'seeded'}"
        return ModeChoice(mode, cap, requested, why, spec)
    if requested not in MODE_NAMES:
        raise ValueError(f"coding.mode={requested!r}; choose auto, seeded, method or freeform")
    why = f"coding.mode={requested} set explicitly; {spec} is declared {cap} ({source})"
    if cap == "small" and requested != "seeded":
        why += "; a small model rarely writes working code, expect fallbacks"
    return ModeChoice(MODE_NAMES[requested], cap, requested, why, spec)
