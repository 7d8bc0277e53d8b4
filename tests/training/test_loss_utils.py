"""SDPO loss functions on a tiny model: the sampled-token estimator is the reverse-KL
gradient in expectation (checked exactly by enumerating the vocabulary), the loss falls
over steps, and the teacher gets no gradient."""
from __future__ import annotations

import pytest
import torch

from tests.training.tiny import tiny_config
from training.loss_utils import (completion_logits, full_reverse_kl, sampled_token_loss, sdpo_advantages,
                                 sdpo_loss, token_logprobs, topk_reverse_kl)

V = 16


@pytest.fixture()
def tiny():
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(tiny_config(V, num_hidden_layers=1, hidden_size=32, intermediate_size=64))


def _grads(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def test_sampled_token_estimator_equals_reverse_kl_gradient_in_expectation(tiny):
    """E_{y~pi_s}[grad(-A(y) log pi_s(y))] == grad KL(pi_s || pi_t), exactly, at one
    position: enumerate all V tokens and weight each one's gradient by pi_s(y)."""
    x = torch.tensor([[1, 5, 7, 3]])  # student prompt
    xo = torch.tensor([[1, 5, 9, 9, 4, 7, 3]])  # teacher prompt (with "feedback" tokens)
    with torch.no_grad():
        t_logits = tiny(xo).logits[0, -1]
    s_logits_fn = lambda: tiny(x).logits[0, -1]  # noqa: E731
    kl_grad = _grads(tiny, full_reverse_kl(s_logits_fn()[None], t_logits[None]))

    with torch.no_grad():
        p_s = torch.softmax(s_logits_fn(), -1)
    expected = torch.zeros_like(kl_grad)
    for y in range(V):
        s_logp = token_logprobs(s_logits_fn()[None], torch.tensor([y]))
        t_logp = token_logprobs(t_logits[None], torch.tensor([y]))
        loss, _ = sampled_token_loss(s_logp, t_logp, clip=1e9)
        expected += p_s[y] * _grads(tiny, loss)
    assert kl_grad.abs().max() > 1e-6  # the teacher differs: a real gradient to match
    torch.testing.assert_close(expected, kl_grad, rtol=1e-4, atol=1e-7)


def test_sampled_estimator_monte_carlo_agrees_with_kl_gradient(tiny):
    """The same identity by sampling, with the logits as the parameters (cheap)."""
    torch.manual_seed(1)
    s = torch.randn(V, requires_grad=True)
    t = torch.randn(V)
    (g_kl,) = torch.autograd.grad(full_reverse_kl(s[None], t[None]), s)
    ys = torch.distributions.Categorical(logits=s.detach()).sample((20000,))
    logits = s[None].expand(len(ys), V)
    loss, _ = sampled_token_loss(token_logprobs(logits, ys), token_logprobs(t[None].expand(len(ys), V), ys), clip=1e9)
    (g_mc,) = torch.autograd.grad(loss, s)
    assert torch.nn.functional.cosine_similarity(g_mc, g_kl, dim=0) > 0.98


def test_advantage_is_clipped_and_detached():
    s = torch.tensor([-1.0, -9.0, -0.5], requires_grad=True)
    t = torch.tensor([-2.0, -0.1, -0.5], requires_grad=True)
    a = sdpo_advantages(t, s, clip=5.0)
    assert not a.requires_grad
    assert a.tolist() == pytest.approx([-1.0, 5.0, 0.0])


def test_teacher_gets_no_gradient_and_loss_falls(tiny):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                            task_type="CAUSAL_LM"))
    student = torch.tensor([[1, 5, 7, 3, 8, 6, 10, 2]])
    teacher = torch.tensor([[1, 5, 9, 9, 4, 7, 3, 8, 6, 10, 2]])
    n = 4  # completion = the last 4 tokens
    tokens = student[0, -n:]
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-2)
    losses, kls = [], []
    for _ in range(25):
        t_in = teacher.clone()
        with torch.no_grad(), model.disable_adapter():  # fixed target for a clean descent check
            t_logits = completion_logits(model(t_in).logits, teacher.shape[1] - n, n)[0]
        s_logits = completion_logits(model(student).logits, student.shape[1] - n, n)[0]
        loss, stats = sdpo_loss("full_kl", s_logits, t_logits, tokens)
        assert not t_logits.requires_grad and t_logits.grad_fn is None
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
        kls.append(stats["kl_sample"])
    assert losses[-1] < 0.5 * losses[0]


def test_sampled_token_loss_lowers_kl_on_logged_tokens(tiny):
    """With the sampled-token loss the logged tokens' log-ratio to the teacher shrinks."""
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"],
                                            task_type="CAUSAL_LM"))
    student = torch.tensor([[1, 5, 7, 3, 8, 6, 10, 2]])
    teacher = torch.tensor([[1, 5, 9, 9, 4, 7, 3, 8, 6, 10, 2]])
    n = 4
    with torch.no_grad(), model.disable_adapter():
        t_logp = token_logprobs(completion_logits(model(teacher).logits, teacher.shape[1] - n, n)[0], student[0, -n:])
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-2)

    def gap():
        s_logp = token_logprobs(completion_logits(model(student).logits, student.shape[1] - n, n)[0], student[0, -n:])
        return s_logp, (s_logp.detach() - t_logp).abs().mean()

    start = gap()[1]
    for _ in range(25):
        s_logp, _ = gap()
        loss, _ = sampled_token_loss(s_logp, t_logp)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert gap()[1] < 0.5 * start


def test_topk_kl_matches_full_kl_when_k_is_vocab():
    torch.manual_seed(0)
    s, t = torch.randn(3, V), torch.randn(3, V)
    torch.testing.assert_close(topk_reverse_kl(s, t, k=V), full_reverse_kl(s, t))
    assert float(topk_reverse_kl(s, t, k=4)) >= 0.0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="completion_start"):
        completion_logits(torch.zeros(1, 4, V), 0, 2)
    with pytest.raises(ValueError, match="unknown SDPO loss"):
        sdpo_loss("nope", torch.zeros(2, V), torch.zeros(2, V), torch.tensor([0, 1]))
