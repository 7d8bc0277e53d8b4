"""Pure SDPO loss functions (torch only; no model, no I/O), tested on CPU.

Notation: x = planner input, y = the planner's logged output, o = the user's feedback.
Student = pi(. | x, y<t) (trainable), teacher = pi(. | x, o, y<t) (no gradient).

The sampled-token loss  L = -mean_t(A_t * log pi_s(y_t)),  with the stop-gradient
advantage A_t = clip(log pi_t(y_t) - log pi_s(y_t), -c, c), has (unclipped, y_t drawn
from the student) expected gradient  sum_v pi_s(v) (log pi_s(v) - log pi_t(v)) grad log
pi_s(v) = grad KL(pi_s || pi_t): the per-token reverse KL gradient, from one token per
position. The full-logit and top-k forms compute that KL directly over the vocabulary.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def completion_logits(logits: torch.Tensor, completion_start: int, completion_len: int) -> torch.Tensor:
    """Logits that predict the completion tokens: position p predicts token p + 1, so the
    completion occupying [start, start + len) is predicted by [start - 1, start + len - 1)."""
    if completion_start < 1:
        raise ValueError("completion_start must be >= 1 (a prompt token must precede the completion)")
    return logits[..., completion_start - 1: completion_start - 1 + completion_len, :]


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[tokens], in float32 for stability. logits [..., T, V], tokens [..., T]."""
    logp = F.log_softmax(logits.float(), dim=-1)
    return logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return x.mean()
    mask = mask.to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp_min(1.0)


def sdpo_advantages(teacher_logp: torch.Tensor, student_logp: torch.Tensor, clip: float) -> torch.Tensor:
    """A_t = clip(log pi_t - log pi_s, -c, c), detached: it weights the score function
    and must carry no gradient into either model."""
    return (teacher_logp.detach() - student_logp.detach()).clamp(-clip, clip)


def sampled_token_loss(student_logp: torch.Tensor, teacher_logp: torch.Tensor,
                       mask: torch.Tensor | None = None, clip: float = 5.0) -> tuple[torch.Tensor, torch.Tensor]:
    """-mean_t(A_t * log pi_s(y_t)). Returns (loss, advantages)."""
    adv = sdpo_advantages(teacher_logp, student_logp, clip)
    return -masked_mean(adv * student_logp, mask), adv


def full_reverse_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """mean_t KL(pi_s(.|t) || pi_t(.|t)) over the whole vocabulary; teacher detached."""
    ls = F.log_softmax(student_logits.float(), dim=-1)
    lt = F.log_softmax(teacher_logits.detach().float(), dim=-1)
    kl = (ls.exp() * (ls - lt)).sum(-1)
    return masked_mean(kl, mask)


def topk_reverse_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, k: int,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """Reverse KL on the student's top-k tokens per position, both distributions
    renormalised over that set: it keeps most of the KL mass at O(k) memory, which is
    what matters when the full vocabulary does not fit (large models, long outputs)."""
    k = min(k, student_logits.shape[-1])
    idx = student_logits.detach().topk(k, dim=-1).indices
    ls = F.log_softmax(student_logits.float().gather(-1, idx), dim=-1)
    lt = F.log_softmax(teacher_logits.detach().float().gather(-1, idx), dim=-1)
    kl = (ls.exp() * (ls - lt)).sum(-1)
    return masked_mean(kl, mask)


def sdpo_loss(kind: str, student_logits: torch.Tensor, teacher_logits: torch.Tensor,
              tokens: torch.Tensor, mask: torch.Tensor | None = None, *, clip: float = 5.0,
              k: int = 20) -> tuple[torch.Tensor, dict[str, float]]:
    """Dispatch on the configured loss; also returns detached diagnostics:
    `kl_sample` = mean_t(log pi_s(y_t) - log pi_t(y_t)) on the logged tokens (a one-sample
    estimate of the reverse KL), `abs_log_ratio` = mean_t |that log-ratio| (how far the
    student is from the teacher on y, the quantity every loss drives to 0) and `adv_mean` = mean clipped advantage."""
    s_logp = token_logprobs(student_logits, tokens)
    t_logp = token_logprobs(teacher_logits.detach(), tokens)
    if kind == "sampled_token":
        loss, adv = sampled_token_loss(s_logp, t_logp, mask, clip)
    elif kind == "full_kl":
        loss, adv = full_reverse_kl(student_logits, teacher_logits, mask), None
    elif kind == "topk_kl":
        loss, adv = topk_reverse_kl(student_logits, teacher_logits, k, mask), None
    else:
        raise ValueError(f"unknown SDPO loss {kind!r}; use sampled_token, full_kl or topk_kl")
    diff = s_logp.detach() - t_logp
    stats = {"kl_sample": float(masked_mean(diff, mask)),
             "abs_log_ratio": float(masked_mean(diff.abs(), mask)),
             "adv_mean": float(masked_mean(adv, mask)) if adv is not None else 0.0}
    return loss, stats
