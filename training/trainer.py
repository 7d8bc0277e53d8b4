"""SDPO trainer: one feedback round = a few LoRA steps over all of a user's triples.

Per step and triple: a teacher forward (no grad) of chat(x + hindsight o) + y and a
student forward/backward of chat(x) + y; the loss compares their log-probabilities on
the tokens of y (training/loss_utils.py). The teacher is, by default, the live student
weights (base + the adapter being trained) with the feedback in context: that is the
self-distillation of the method, and it costs one extra forward and no extra memory for
a second model. `teacher="base"` disables the adapter for the teacher instead (a fixed
target; safer when a user's feedback history is long and the adapter might drift).
With `on_policy=True` each step first re-samples y from the current student for every
prompt in the batch (on-policy SDPO); by default the logged outputs are replayed.
"""
from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from training.data import SDPOExample, Triple, build_example
from training.loss_utils import completion_logits, sdpo_loss
from training.sdpo_config import SDPOConfig

log = logging.getLogger(__name__)


def load_base(base_dir: str | Path, dtype: str = "float32", device: str = "cpu"):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base_dir))
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=getattr(torch, dtype))
    return model.to(device), tok


def attach_lora(model, config: SDPOConfig, init_adapter: str | Path | None = None):
    """A trainable peft model: warm-started from `init_adapter` when given (the user's
    current version, so rounds accumulate), else a fresh LoRA."""
    from peft import LoraConfig, PeftModel, get_peft_model

    if init_adapter is not None:
        return PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
    lcfg = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), task_type="CAUSAL_LM")
    return get_peft_model(model, lcfg)


class SDPOTrainer:
    """Trains one user's planner LoRA from their (x, y, o) triples."""

    def __init__(self, base_dir: str | Path, config: SDPOConfig | None = None, *,
                 model=None, tokenizer=None, device: str = "cpu"):
        self.base_dir = Path(base_dir)
        self.config = config or SDPOConfig()
        self.device = device
        if model is None:  # a given model may come without a tokenizer (pre-tokenized examples)
            model, tokenizer = load_base(self.base_dir, self.config.dtype, device)
        self.base_model, self.tokenizer = model, tokenizer

    # ------------------------------------------------------------------ one step
    def _forward_logits(self, model, ids: list[int], start: int, n: int) -> torch.Tensor:
        x = torch.tensor([ids], device=self.device)
        logits = model(input_ids=x, use_cache=False).logits
        return completion_logits(logits, start, n)[0]

    def teacher_logits(self, model, ex: SDPOExample) -> torch.Tensor:
        was_training = model.training
        model.eval()  # no LoRA dropout in the target
        try:
            with torch.no_grad():
                if self.config.teacher == "base":
                    with model.disable_adapter():
                        return self._forward_logits(model, ex.teacher_ids, ex.teacher_start, ex.completion_len)
                return self._forward_logits(model, ex.teacher_ids, ex.teacher_start, ex.completion_len)
        finally:
            model.train(was_training)

    def example_loss(self, model, ex: SDPOExample) -> tuple[torch.Tensor, dict[str, float]]:
        t_logits = self.teacher_logits(model, ex)
        s_logits = self._forward_logits(model, ex.student_ids, ex.student_start, ex.completion_len)
        tokens = torch.tensor(ex.completion_ids, device=self.device)
        return sdpo_loss(self.config.loss, s_logits, t_logits, tokens,
                         clip=self.config.advantage_clip, k=self.config.topk)

    # ------------------------------------------------------------------ a round
    def build_examples(self, triples: Sequence[Triple]) -> list[SDPOExample]:
        if not triples:
            raise ValueError("no (planner call, feedback) triples to train on")
        if self.config.replay == "latest":
            last = triples[-1].feedback_id
            triples = [t for t in triples if t.feedback_id == last]
        return [build_example(self.tokenizer, t, self.config.max_prompt_tokens,
                              self.config.max_completion_tokens) for t in triples]

    def train(self, triples: Sequence[Triple], out_dir: str | Path,
              init_adapter: str | Path | None = None,
              on_step: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, Any]:
        """Run `config.steps` optimizer steps; save the adapter to `out_dir`; return metrics.
        `on_step(step, stats)` after each step (progress: loss, KL, grad norm)."""
        cfg = self.config
        torch.manual_seed(cfg.seed)
        rng = random.Random(cfg.seed)
        self._generator = torch.Generator(device="cpu").manual_seed(cfg.seed)
        examples = self.build_examples(triples)
        model = attach_lora(self.base_model, cfg, init_adapter if cfg.warm_start else None)
        model.train()
        stepper = self.make_stepper(model)
        order: list[int] = []
        history: list[dict[str, float]] = []
        t0 = time.perf_counter()
        try:
            for step in range(cfg.steps):
                batch = []
                for _ in range(cfg.batch_size):
                    if not order:
                        order = rng.sample(range(len(examples)), len(examples))
                    batch.append(examples[order.pop()])
                history.append(self._step(model, stepper, batch))
                log.debug("sdpo step %d: %s", step, history[-1])
                if on_step is not None:
                    on_step(step + 1, history[-1])
            model.save_pretrained(str(out_dir))
        finally:
            self.base_model = _unwrap(model)  # leave the base clean for the next round
        return self._metrics(history, examples, time.perf_counter() - t0)

    def make_stepper(self, model) -> "AdamWStepper":
        """The optimizer side of a step; training/ray_job.py swaps in DeepSpeed on GPUs."""
        return AdamWStepper(model, self.config)

    def resample(self, model, ex: SDPOExample, generator: torch.Generator) -> SDPOExample:
        """On-policy: a fresh response from the current student for the example's prompt;
        student and teacher keep their prompts (the teacher's has the feedback) and now
        share the sampled completion."""
        cfg = self.config
        prompt = ex.student_ids[:ex.student_start]
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = sample_tokens(model, prompt, cfg.max_sample_tokens, cfg.sample_temperature,
                                    generator, eos_id=getattr(self.tokenizer, "eos_token_id", None),
                                    device=self.device)
        finally:
            model.train(was_training)
        if not out:  # an immediate end of turn still teaches when to stop
            out = ex.completion_ids[:1]
        t_prompt = ex.teacher_ids[:ex.teacher_start]
        return SDPOExample(student_ids=prompt + out, teacher_ids=t_prompt + out,
                           student_start=len(prompt), teacher_start=len(t_prompt),
                           completion_len=len(out))

    def _step(self, model, stepper, batch: list[SDPOExample]) -> dict[str, float]:
        if self.config.on_policy:
            batch = [self.resample(model, ex, self._generator) for ex in batch]
        stepper.zero_grad()
        loss_sum, kl_sum, gap_sum = 0.0, 0.0, 0.0
        for ex in batch:
            loss, stats = self.example_loss(model, ex)
            stepper.backward(loss / len(batch))
            loss_sum += float(loss.detach()) / len(batch)
            kl_sum += stats["kl_sample"] / len(batch)
            gap_sum += stats["abs_log_ratio"] / len(batch)
        gnorm = stepper.step()
        return {"loss": loss_sum, "kl_sample": kl_sum, "abs_log_ratio": gap_sum, "grad_norm": gnorm}

    def _metrics(self, history, examples, seconds: float) -> dict[str, Any]:
        tokens = sum(e.completion_len for e in examples)
        return {"steps": len(history), "triples": len(examples), "completion_tokens": tokens,
                "loss_first": history[0]["loss"], "loss_last": history[-1]["loss"],
                "kl_first": history[0]["kl_sample"], "kl_last": history[-1]["kl_sample"],
                "gap_first": history[0]["abs_log_ratio"], "gap_last": history[-1]["abs_log_ratio"],
                "seconds": seconds, "seconds_per_step": seconds / max(len(history), 1),
                "history": history}


class AdamWStepper:
    """AdamW over the trainable (LoRA) parameters with global grad-norm clipping."""

    def __init__(self, model, config: SDPOConfig):
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.clip = config.grad_clip or float("inf")
        self.opt = torch.optim.AdamW(self.params, lr=config.learning_rate, weight_decay=config.weight_decay)

    def zero_grad(self) -> None:
        self.opt.zero_grad(set_to_none=True)

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self) -> float:
        gnorm = torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        self.opt.step()
        return float(gnorm)


def sample_tokens(model, prompt: list[int], max_new: int, temperature: float,
                  generator: torch.Generator, eos_id: int | None = None, device: str = "cpu") -> list[int]:
    """Ancestral sampling with a KV cache; stops at `eos_id` (kept, like a logged output's
    end of turn) or after `max_new` tokens."""
    out: list[int] = []
    past, x = None, torch.tensor([prompt], device=device)
    for _ in range(max_new):
        res = model(input_ids=x, past_key_values=past, use_cache=True)
        past = res.past_key_values
        probs = torch.softmax(res.logits[0, -1].float().cpu() / temperature, dim=-1)
        tok = int(torch.multinomial(probs, 1, generator=generator))
        out.append(tok)
        if eos_id is not None and tok == eos_id:
            break
        x = torch.tensor([[tok]], device=device)
    return out


def _unwrap(model):
    """Remove the LoRA layers so the shared base model is pristine again."""
    try:
        return model.unload()
    except AttributeError:
        return model
