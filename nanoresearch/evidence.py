"""Quantitative evidence: (method, dataset, metric, value, setting) tuples parsed from
abstracts (or full text), each tied to the sentence it came from.

Rules run first (cheap, precise on the common phrasings); a model, when given, is asked
only for small JSON and its numbers are kept only if they literally occur in the text,
so a hallucinated number can never become evidence.
"""
from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import Template
from pydantic import BaseModel, Field

from nanoresearch.errors import ModelError
from nanoresearch.llm.base import LLM
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import Evidence, LiteratureRecord

log = logging.getLogger(__name__)

METRICS = (r"top-[15] accuracy|accuracy|accuracies|macro[- ]F1|micro[- ]F1|F1[- ]scores?|F1|BLEU|"
           r"ROUGE-(?:[12L]|Lsum)|ROUGE|METEOR|CIDEr|mAP(?:@[\d.]+)?|AP50|AP|AUC-ROC|AUROC|AUPRC|AUC|"
           r"precision|recall|perplexity|word error rate|WER|character error rate|CER|EER|"
           r"sMAPE|MAPE|RMSE|MSE|MAE|exact match|EM|pass@\d+|mIoU|IoU|Dice|DSC|PSNR|SSIM|LPIPS|FID|"
           r"NDCG(?:@\d+)?|MRR|Hits@\d+|R2|error rate|error|success rate|win rate|speedup|"
           r"throughput|latency|memory usage|memory")
_M = rf"(?P<metric>{METRICS})"
_V = r"(?P<value>\d+(?:\.\d+)?)(?P<unit>\s?(?:\\?%|percentage points|pp|points|x|×))?"
_Q = r"(?:up to |about |approximately |around |over |nearly |~|an average of |on average )?"
_UP = r"(?:improv|increas|boost|rais|enhanc|gain)\w*"
_DOWN = r"(?:reduc|decreas|lower|cut)\w*"
# order matters: change phrasings first, so "improves BLEU by 2.1" is not also read as a score
PATTERNS: list[tuple[str, re.Pattern]] = [(s, re.compile(p, re.I)) for s, p in [
    ("improvement", rf"\b{_UP}\s+(?:the\s+|its\s+)?{_M}\s+(?:score\s+)?by\s+{_Q}{_V}"),
    ("reduction", rf"\b{_DOWN}\s+(?:the\s+|its\s+)?{_M}\s+by\s+{_Q}{_V}"),
    ("improvement", rf"\b{_Q}{_V}\s+(?:absolute\s+|relative\s+)?(?:improvements?|gains?|increases?)\s+(?:in|of|on)\s+(?:the\s+)?{_M}"),
    ("reduction", rf"\b{_Q}{_V}\s+(?:absolute\s+|relative\s+)?(?:reductions?|decreases?|drops?)\s+(?:in|of)\s+(?:the\s+)?{_M}"),
    ("score", rf"\b{_M}\)?\s+(?:score\s+)?(?:of|=|:|at|reaching|reaches)\s+{_Q}{_V}"),
    ("score", rf"\b{_Q}{_V}\s+(?:(?:top-1|top-5|average|mean|overall|test)\s+)?{_M}\b"),
]]
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")
_ON = re.compile(r"\b(?:on|for)\s+(?:the\s+)?([A-Z][A-Za-z0-9\-\.]*[A-Za-z0-9](?:[- ][A-Z0-9][A-Za-z0-9\-]*)*)")
_NAME = re.compile(r"\b([A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9\-]*(?:\s?\+\s?[A-Z][A-Za-z0-9\-]+)*)")
_PROPOSE = re.compile(r"\b(?:[Ww]e (?:propose|introduce|present|develop)|called|named|dubbed)\s+"
                      r"[^.]{0,80}?\b([A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9\-\+]*)\b")
_NOT_NAMES = {"On", "Our", "The", "This", "We", "In", "It", "Experiments", "Average", "LLM",
              "LLMs", "SOTA", "AI", "ML", "NLP", "CNN", "GPU", "GPUs", "API"}


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text) if s.strip()]


def evidence_id(paper_id: str, span: str, metric: str, value: str) -> str:
    return "ev-" + hashlib.sha1(f"{paper_id}|{span}|{metric}|{value}".encode()).hexdigest()[:12]


def _metric_words() -> set[str]:
    return {m.lower() for m in re.findall(r"[A-Za-z][A-Za-z0-9@\-]+", METRICS)}


def _dataset(sentence: str, pos: int) -> str:
    """The capitalised name after 'on'/'for' nearest to the number (after it preferred)."""
    cands = [(m.start(), m.group(1)) for m in _ON.finditer(sentence)
             if m.group(1) not in _NOT_NAMES and m.group(1).lower() not in _metric_words()]
    after = [c for c in cands if c[0] > pos]
    pick = after[0] if after else (cands[-1] if cands else None)
    return pick[1] if pick else ""


def _method(sentence: str, pos: int, proposed: str) -> str:
    """The named method nearest before the number ('RF achieved 88.9%, while SVM reached
    81.1%'), skipping dataset and metric names; else the name the abstract introduces."""
    metrics = _metric_words()
    datasets = {m.group(1) for m in _ON.finditer(sentence)}
    names = [m.group(1) for m in _NAME.finditer(sentence[:pos])
             if m.group(1) not in _NOT_NAMES and m.group(1).lower() not in metrics
             and not any(m.group(1) in d for d in datasets)]
    return names[-1] if names else proposed


def _setting(kind: str, unit: str | None, sentence: str) -> str:
    parts = [kind]
    if unit and unit.strip():
        parts.append(unit.strip().replace("\\%", "%"))
    for w in ("relative", "absolute", "zero-shot", "few-shot"):
        if w in sentence.lower():
            parts.append(w)
    return ", ".join(parts)


def grounded(value: str, span: str, text: str) -> bool:
    """A number counts only if it occurs as a whole number token in the span, and the span
    occurs in the source text."""
    return bool(re.search(rf"(?<![\d.]){re.escape(value)}(?!\.?\d)", span)) and span in text


def extract_rule(record: LiteratureRecord, text: str | None = None) -> list[Evidence]:
    text = text or record.abstract
    proposed = next((m.group(1) for m in _PROPOSE.finditer(text)
                     if m.group(1) not in _NOT_NAMES), "")
    out: list[Evidence] = []
    for sent in split_sentences(text):
        taken: list[tuple[int, int]] = []
        for kind, pat in PATTERNS:
            for m in pat.finditer(sent):
                vs, ve = m.span("value")
                if any(a <= vs < b for a, b in taken) or not grounded(m.group("value"), sent, text):
                    continue
                taken.append((vs, ve))
                metric = m.group("metric")
                out.append(Evidence(
                    id=evidence_id(record.id, sent, metric.lower(), m.group("value")),
                    paper_id=record.id, method=_method(sent, vs, proposed),
                    dataset=_dataset(sent, vs), metric=metric, value=float(m.group("value")),
                    setting=_setting(kind, m.group("unit"), sent), span=sent, extractor="rule"))
    return out


class _Item(BaseModel):
    metric: str = Field(max_length=60)
    value: str = Field(max_length=20)
    dataset: str = Field(default="", max_length=80)
    method: str = Field(default="", max_length=80)


class _Items(BaseModel):
    items: list[_Item] = Field(default_factory=list)


def _prompts() -> dict[str, Any]:
    return yaml.safe_load((Path(__file__).parent / "evidence_prompts.yaml").read_text())


def extract_llm(record: LiteratureRecord, llm: LLM, text: str | None = None,
                retries: int = 1, max_items: int = 5) -> list[Evidence]:
    """Model-extracted tuples; each value must literally occur in a sentence of the text
    (that sentence becomes the span), otherwise it is dropped and logged."""
    text = text or record.abstract
    p = _prompts()
    msgs = [{"role": "system", "content": p["evidence_system"]},
            {"role": "user", "content": Template(p["evidence_user"]).render(text=text, max_items=max_items)}]
    try:
        items, _ = generate_structured(llm, msgs, _Items, retries=retries, max_tokens=300)
    except ModelError as e:
        log.info("LLM evidence extraction for %s unusable: %s", record.id, e)
        return []
    out = []
    for it in items.items[:max_items]:
        value = it.value.strip().rstrip("%").strip()
        span = next((s for s in split_sentences(text) if grounded(value, s, text)), None)
        if not re.fullmatch(r"\d+(?:\.\d+)?", value) or span is None:
            log.info("dropped ungrounded LLM evidence %r for %s", it.value, record.id)
            continue
        out.append(Evidence(id=evidence_id(record.id, span, it.metric.lower(), value),
                            paper_id=record.id, method=it.method, dataset=it.dataset,
                            metric=it.metric, value=float(value), setting="llm", span=span,
                            extractor="llm"))
    return out


class EvidenceExtractor:
    """mode: 'rules' (never call the model), 'fallback' (model only for texts with numbers
    where the rules found nothing), 'both' (rules, plus model tuples the rules missed)."""

    def __init__(self, llm: LLM | None = None,
                 mode: Literal["rules", "fallback", "both"] = "fallback", retries: int = 1):
        self.llm, self.mode, self.retries = llm, mode, retries
        self.llm_calls = 0

    def extract(self, record: LiteratureRecord, text: str | None = None) -> list[Evidence]:
        found = extract_rule(record, text)
        src = text or record.abstract
        want_llm = self.llm is not None and self.mode != "rules" and (
            self.mode == "both" or (not found and re.search(r"\d", src)))
        if want_llm:
            self.llm_calls += 1
            seen = {(e.span, e.value) for e in found}
            found += [e for e in extract_llm(record, self.llm, text, self.retries)
                      if (e.span, e.value) not in seen]
        return found

    def extract_many(self, records: list[LiteratureRecord]) -> list[Evidence]:
        out, ids = [], set()
        for r in records:
            for e in self.extract(r):
                if e.id not in ids:
                    ids.add(e.id)
                    out.append(e)
        return out
