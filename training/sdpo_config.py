"""SDPO hyper-parameters: one dataclass, a help string per field, validation on build.

`SDPOConfig()` is the CPU profile (small LoRA on attention only, 10 steps at lr 1e-3,
off-policy replay of the logged plans, short sequences). Its lr was raised from 1e-4 after
measuring (benchmarks/sdpo.py --learning, README 'SDPO recipe'): at 1e-4 one round moved
the held-out preference margin by +0.2..+0.5 nats; at 1e-3 by +11..+13 nats on every
held-out task, and a control feedback by < 0 (tests/training/test_sdpo_default_recipe.py). On-policy
re-sampling (`on_policy=True`) costs a 96-token generation per triple and step, which is
minutes per round on a shared 2-core CPU, so it stays opt-in there.
`SDPOConfig.gpu()` is the seed paper's recipe: r 16, alpha 32, dropout 0.05 on attention
and MLP projections, AdamW lr 1e-4, 50 steps replaying all of the user's triples, grad
clip 1.0.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")


def _f(default: Any, help: str, **kw: Any) -> Any:
    if isinstance(default, (list, dict, tuple)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass
class SDPOConfig:
    lora_r: int = _f(8, "LoRA rank of every adapted projection.")
    lora_alpha: int = _f(16, "LoRA scaling numerator (scale = alpha / r).")
    lora_dropout: float = _f(0.0, "Dropout on the LoRA input during training, in [0, 1).")
    target_modules: list = _f(list(ATTENTION), "Module names that get LoRA (attention, optionally MLP).")
    learning_rate: float = _f(1e-3, "AdamW learning rate (CPU profile: 1e-3; at 1e-4 a round's 10 "
                                     "steps barely moved the planner, README 'SDPO recipe').")
    weight_decay: float = _f(0.0, "AdamW weight decay.")
    steps: int = _f(10, "Optimizer steps per feedback round.")
    batch_size: int = _f(2, "Triples per optimizer step (gradients accumulated one triple at a time).")
    replay: Literal["all", "latest"] = _f(
        "all", "'all': every (x, y, o) triple of the user is replayed each round; 'latest': only "
               "the triples of the newest feedback.")
    max_prompt_tokens: int = _f(768, "Prompt tokens kept (left-truncated) for student and teacher.")
    max_completion_tokens: int = _f(256, "Completion (logged output y) tokens kept.")
    loss: Literal["sampled_token", "full_kl", "topk_kl"] = _f(
        "sampled_token", "'sampled_token': -mean_t(A_t log pi_s(y_t)) with the clipped stop-grad "
                         "advantage; 'full_kl': exact per-token reverse KL over the vocabulary; "
                         "'topk_kl': reverse KL restricted to the student's top-k tokens.")
    advantage_clip: float = _f(5.0, "A_t is clipped to [-c, c] (sampled_token loss).")
    topk: int = _f(20, "k for the top-k reverse-KL loss.")
    teacher: Literal["student", "base"] = _f(
        "student", "'student': the teacher is the live student weights (base + the adapter being "
                   "trained) under no_grad, i.e. true self-distillation; 'base': adapter disabled.")
    grad_clip: float = _f(1.0, "Max global grad norm (0 disables clipping).")
    warm_start: bool = _f(True, "Start from the user's current adapter (else a fresh LoRA).")
    seed: int = _f(0, "Seed for LoRA init and triple order.")
    dtype: Literal["float32", "bfloat16"] = _f("float32", "Compute dtype (bfloat16 on GPUs).")
    on_policy: bool = _f(False, "Re-sample the response y from the current student for each "
                                "triple's prompt at every step (on-policy SDPO); the logged "
                                "planner output is then only the prompt's record. Off: replay "
                                "the logged outputs (off-policy).")
    sample_temperature: float = _f(1.0, "Sampling temperature of the on-policy responses.")
    max_sample_tokens: int = _f(96, "Longest on-policy response sampled per triple and step.")

    def __post_init__(self) -> None:
        self.target_modules = list(self.target_modules)
        checks = [
            ("lora_r", self.lora_r >= 1, "must be >= 1"),
            ("lora_alpha", self.lora_alpha > 0, "must be > 0"),
            ("lora_dropout", 0.0 <= self.lora_dropout < 1.0, "must be in [0, 1)"),
            ("target_modules", len(self.target_modules) > 0, "must name at least one module"),
            ("learning_rate", 0 < self.learning_rate < 1, "must be in (0, 1)"),
            ("weight_decay", self.weight_decay >= 0, "must be >= 0"),
            ("steps", self.steps >= 1, "must be >= 1"),
            ("batch_size", self.batch_size >= 1, "must be >= 1"),
            ("replay", self.replay in ("all", "latest"), "must be 'all' or 'latest'"),
            ("max_prompt_tokens", self.max_prompt_tokens >= 8, "must be >= 8"),
            ("max_completion_tokens", self.max_completion_tokens >= 1, "must be >= 1"),
            ("loss", self.loss in ("sampled_token", "full_kl", "topk_kl"),
             "must be 'sampled_token', 'full_kl' or 'topk_kl'"),
            ("advantage_clip", self.advantage_clip > 0, "must be > 0"),
            ("topk", self.topk >= 1, "must be >= 1"),
            ("teacher", self.teacher in ("student", "base"), "must be 'student' or 'base'"),
            ("grad_clip", self.grad_clip >= 0, "must be >= 0 (0 disables)"),
            ("dtype", self.dtype in ("float32", "bfloat16"), "must be 'float32' or 'bfloat16'"),
            ("sample_temperature", self.sample_temperature > 0, "must be > 0"),
            ("max_sample_tokens", self.max_sample_tokens >= 1, "must be >= 1"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise ValueError(f"SDPOConfig.{name}={getattr(self, name)!r} {why}")

    @classmethod
    def gpu(cls, **overrides: Any) -> "SDPOConfig":
        base = dict(lora_r=16, lora_alpha=32, lora_dropout=0.05, target_modules=list(ATTENTION + MLP),
                    learning_rate=1e-4, steps=50, batch_size=4, replay="all", grad_clip=1.0,
                    max_prompt_tokens=2048, max_completion_tokens=512, dtype="bfloat16")
        return cls(**{**base, **overrides})

    @classmethod
    def from_settings(cls, training: Any, cuda: bool | None = None) -> "SDPOConfig":
        """The recipe `settings.training` asks for (profile + explicit overrides)."""
        if cuda is None:
            import torch
            cuda = torch.cuda.is_available()
        gpu = training.profile == "gpu" or (training.profile == "auto" and cuda)
        over = training.overrides()
        return cls.gpu(**over) if gpu else cls(**over)

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_(self, **kw: Any) -> "SDPOConfig":
        return replace(self, **kw)
