"""`make_llm("provider:model", settings)`: the one place a spec becomes an LLM.

Providers:
  embedded:smollm2 | embedded:/path/model.gguf | embedded:/path/hf_dir   local, offline
  openai:<model>     api.openai.com or providers.openai_base_url ($OPENAI_API_KEY)
  deepseek:<model>   providers.deepseek_base_url ($DEEPSEEK_API_KEY)
  vllm:<model>       any OpenAI-compatible server at providers.vllm_base_url
  planner:<model>    our Serve planner route at providers.planner_base_url
  anthropic:<model>  Anthropic Messages API ($ANTHROPIC_API_KEY)
  scripted:<file>    replays a JSON list of responses (offline demos, control-flow tests)
With a `ledger`, the LLM comes back wrapped in `MeteredLLM` (caps + accounting per agent).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from nanoresearch.config import Settings
from nanoresearch.errors import UserError
from nanoresearch.llm.base import LLM
from nanoresearch.llm.ledger import Ledger, MeteredLLM
from nanoresearch.llm.retry import RetryPolicy

PLANNER_TOKEN_FILE = "planner_service_token"  # serve/auth.py writes it (0600)
PROVIDERS = ("embedded", "openai", "deepseek", "vllm", "planner", "anthropic", "scripted")


def parse_spec(spec: str) -> tuple[str, str]:
    provider, sep, model = spec.partition(":")
    provider = provider.strip().lower()
    if not sep or not provider or not model.strip():
        raise UserError(f"model spec {spec!r} is not 'provider:model' "
                        f"(e.g. 'embedded:smollm2', 'openai:gpt-4o-mini')")
    if provider not in PROVIDERS:
        raise UserError(f"unknown model provider {provider!r} in {spec!r}; "
                        f"choose one of {', '.join(PROVIDERS)}")
    return provider, model.strip()


def _key(explicit: str | None, env: str, where: str, required: bool) -> str | None:
    key = explicit or os.environ.get(env)
    if required and not key:
        raise UserError(f"no API key for {where}: set ${env} or providers.{where}_api_key "
                        "in the config")
    return key


def _openai_like(provider: str, model: str, settings: Settings) -> LLM:
    from nanoresearch.llm.openai_compat import OpenAICompatLLM

    p = settings.providers
    retry = RetryPolicy(max_retries=p.max_retries)
    if provider == "openai":
        # a custom base_url (a local server) may need no key; api.openai.com does
        key = _key(p.openai_api_key, "OPENAI_API_KEY", "openai", required=not p.openai_base_url)
        base = p.openai_base_url
    elif provider == "deepseek":
        key = _key(None, "DEEPSEEK_API_KEY", "deepseek", required=True)
        base = p.deepseek_base_url
    elif provider == "vllm":  # a local server, key optional
        key = os.environ.get("VLLM_API_KEY")
        base = p.vllm_base_url
    else:  # our planner route needs a token (serve/planner_openai.py)
        key = _planner_token(settings)
        base = p.planner_base_url
    return OpenAICompatLLM(model, provider=provider, base_url=base, api_key=key,
                           timeout_s=p.timeout_s, retry=retry)


def _planner_token(settings: Settings) -> str:
    """$NANORESEARCH_PLANNER_TOKEN (a user's API token), else the data dir's planner service
    token (written by the server, serve/auth.service_token), else a clear error."""
    tok = os.environ.get("NANORESEARCH_PLANNER_TOKEN")
    path = Path(settings.data_dir).expanduser() / PLANNER_TOKEN_FILE
    if not tok and path.is_file():
        tok = path.read_text().strip()
    if not tok:
        raise UserError("the planner route needs a token: set $NANORESEARCH_PLANNER_TOKEN to your API "
                        f"token, or start the server (it writes {path})")
    return tok


def _anthropic(model: str, settings: Settings) -> LLM:
    from nanoresearch.llm.anthropic_provider import AnthropicLLM

    p = settings.providers
    key = _key(p.anthropic_api_key, "ANTHROPIC_API_KEY", "anthropic",
               required=not p.anthropic_base_url)
    return AnthropicLLM(model, base_url=p.anthropic_base_url, api_key=key,
                        timeout_s=p.timeout_s, retry=RetryPolicy(max_retries=p.max_retries))


def _scripted(arg: str) -> LLM:
    from nanoresearch.llm.scripted import ScriptedModel

    path = Path(arg).expanduser()
    if not path.is_file():
        raise UserError(f"scripted:{arg}: give a JSON file holding a list of responses")
    try:
        responses = json.loads(path.read_text())
    except ValueError as e:
        raise UserError(f"scripted:{arg} is not valid JSON: {e}") from None
    if not isinstance(responses, list) or not responses:
        raise UserError(f"scripted:{arg} must hold a non-empty JSON list of responses")
    return ScriptedModel(responses, cycle_last=True, model=path.stem)


def make_llm(spec: str, settings: Settings, *, agent: str = "",
             ledger: Ledger | None = None) -> LLM:
    """Build the LLM for `spec`; embedded engines are shared per process."""
    provider, model = parse_spec(spec)
    if provider == "embedded":
        from nanoresearch.llm.embedded import embedded_llm
        llm = embedded_llm(settings, model)
    elif provider == "anthropic":
        llm = _anthropic(model, settings)
    elif provider == "scripted":
        llm = _scripted(model)
    else:
        llm = _openai_like(provider, model, settings)
    return MeteredLLM(llm, ledger, agent) if ledger is not None else llm


def llm_for_agent(agent: str, settings: Settings, ledger: Ledger | None = None) -> LLM:
    """The routed model for `agent` (models.per_agent, else models.default)."""
    return make_llm(settings.models.for_agent(agent), settings, agent=agent, ledger=ledger)
