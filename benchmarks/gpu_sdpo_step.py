"""One SDPO step of a random-initialised planner of Qwen3-0.6B shape with LoRA, on CUDA.

    python -m benchmarks.gpu_sdpo_step                       # on a GPU machine (no network)
    python -m benchmarks.gpu_sdpo_step --device cpu --layers 2 --prompt 64 --completion 32   # CPU smoke

The model is built from a Qwen3 config written here (no download, random weights: the
cost of a step does not depend on the weight values). The LoRA and optimizer follow
SDPOConfig.gpu() (r 16, alpha 32, dropout 0.05, attention + MLP, AdamW 1e-4, clip 1.0).
Reports seconds per step, tokens/s (teacher + student tokens processed per second, and
completion tokens trained per second) and peak memory. Prints a table, then ONE JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from nanoresearch import offline
from training.data import SDPOExample
from training.sdpo_config import SDPOConfig
from training.trainer import SDPOTrainer, attach_lora


def qwen3_0_6b_config(layers: int):
    """Qwen3-0.6B's published shape (hidden 1024, 28 layers, 16 q / 8 kv heads of 128)."""
    from transformers import Qwen3Config

    return Qwen3Config(vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=layers,
                       num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
                       rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
                       bos_token_id=151643, eos_token_id=151645)


def random_example(vocab: int, prompt: int, feedback: int, completion: int, seed: int = 0) -> SDPOExample:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (prompt,), generator=g).tolist()
    o = torch.randint(0, vocab, (feedback,), generator=g).tolist()
    y = torch.randint(0, vocab, (completion,), generator=g).tolist()
    return SDPOExample(student_ids=x + y, teacher_ids=x + o + y, student_start=prompt,
                       teacher_start=prompt + feedback, completion_len=completion)


def main() -> None:
    offline.apply()  # process start: no model hub, no library progress bars
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--layers", type=int, default=28)
    ap.add_argument("--prompt", type=int, default=1024, help="student prompt tokens")
    ap.add_argument("--feedback", type=int, default=64, help="extra teacher (hindsight) tokens")
    ap.add_argument("--completion", type=int, default=512, help="completion tokens y")
    ap.add_argument("--batch", type=int, default=4, help="triples per step (SDPOConfig.gpu default)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--loss", default="sampled_token", choices=["sampled_token", "full_kl", "topk_kl"])
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on the GPU machine or pass --device cpu for a smoke run")
    from transformers import AutoModelForCausalLM

    cfg = SDPOConfig.gpu(loss=args.loss, batch_size=args.batch,
                         dtype="bfloat16" if args.device.startswith("cuda") else "float32")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(qwen3_0_6b_config(args.layers), dtype=getattr(torch, cfg.dtype))
    model.to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    tr = SDPOTrainer("qwen3-0.6b-shape", cfg, model=model, device=args.device)
    peft_model = attach_lora(model, cfg)
    peft_model.train()
    lora_params = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    stepper = tr.make_stepper(peft_model)
    batch = [random_example(model.config.vocab_size, args.prompt, args.feedback, args.completion, s)
             for s in range(args.batch)]
    cuda = args.device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    tr._step(peft_model, stepper, batch)  # warm-up
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        tr._step(peft_model, stepper, batch)
        sync()
        times.append(time.perf_counter() - t0)
    step_s = statistics.median(times)
    processed = sum(len(e.student_ids) + len(e.teacher_ids) for e in batch)
    trained = sum(e.completion_len for e in batch)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None  # CPU: not measured
    res = {"benchmark": "gpu_sdpo_step", "device": torch.cuda.get_device_name() if cuda else "cpu",
           "layers": args.layers, "params_m": n_params / 1e6, "lora_params_m": lora_params / 1e6,
           "dtype": cfg.dtype, "loss": args.loss, "batch": args.batch, "prompt": args.prompt,
           "completion": args.completion, "step_s": step_s, "tokens_per_s": processed / step_s,
           "completion_tokens_per_s": trained / step_s, "peak_mem_gib": peak}
    for k, v in res.items():
        print(f"{k:<24}  {v:.4g}" if isinstance(v, float) else f"{k:<24}  {v}")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}))


if __name__ == "__main__":
    main()
