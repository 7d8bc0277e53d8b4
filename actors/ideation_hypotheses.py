"""Candidate hypotheses: ask the model for small JSON, validate every candidate, fill
missing fields, and fall back to deterministic hypotheses built from the topic and the
retrieved evidence when the model's output is unusable. Each candidate keeps the path
that produced it ("llm", "llm+filled", "template") for the trace.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable

from pydantic import BaseModel, Field

from nanoresearch.errors import ModelError
from nanoresearch.literature.text import is_placeholder, overlap, tokenize
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import Evidence, Hypothesis, LiteratureRecord, ResearchTopic

log = logging.getLogger(__name__)
DOMAIN_METRIC = {"timeseries": "MAE", "graph": "accuracy"}
METRIC_WORDS = ("macro-F1", "macro F1", "F1", "accuracy", "MAE", "RMSE", "MAPE", "AUC",
                "ROC-AUC", "BLEU", "mAP", "perplexity", "WER", "R2")


class HypOut(BaseModel):
    statement: str = Field(max_length=400)
    motivation: str = Field(default="", max_length=300)
    expected_effect: str = Field(default="", max_length=200)
    risk: str = Field(default="", max_length=200)


class IdeasOut(BaseModel):
    # bounded so grammar-constrained decoding of a small model cannot ramble forever
    gaps: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list, max_length=6)
    hypotheses: list[HypOut] = Field(default_factory=list, max_length=6)


@dataclass
class Candidates:
    hypotheses: list[Hypothesis] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)  # hypothesis id -> path
    rejected: list[dict[str, str]] = field(default_factory=list)


def topic_metric(topic: ResearchTopic) -> str:
    text = " ".join(topic.user_requirements + [topic.problem_statement])
    for m in METRIC_WORDS:
        if re.search(rf"(?<![\w-]){re.escape(m)}(?![\w-])", text, re.I):
            return m
    return DOMAIN_METRIC.get(topic.domain, "accuracy")


def topic_terms(topic: ResearchTopic) -> set[str]:
    return set(tokenize(" ".join([topic.problem_statement, topic.background, topic.domain,
                                  *topic.baselines, *topic.datasets])))


def why_unusable(statement: str, topic: ResearchTopic, kept: list[Hypothesis]) -> str | None:
    """None when the statement can stand as a hypothesis; else the reason it cannot."""
    s = statement.strip()
    if is_placeholder(s):
        return "placeholder text"
    if len(s) < 40 or len(s.split()) < 7:
        return "too short to be testable"
    if re.search(r"\.\.\.|<[a-z_ ]+>|\bhypothesis \d\b|^statement$", s, re.I):
        return "placeholder text"
    if not set(tokenize(s)) & topic_terms(topic):
        return "does not mention the topic"
    if any(overlap(s, h.statement) > 0.8 for h in kept):
        return "duplicate of another candidate"
    return None


VERBS = ("match", "beat", "outperform", "improve", "reduce", "identify", "keep", "help", "increase",
         "change", "remain", "achieve", "lower", "retain", "yield", "work", "hurt", "degrade")
_VERB = re.compile(rf"\b({'|'.join(VERBS)})\b")
_COMPARE = re.compile(r"\b(more|less|as|better|worse|faster|slower|cheaper|robust|effective)\b")


def _third_person(verb: str) -> str:
    return verb + ("es" if verb.endswith(("ch", "sh", "s", "x")) else "s")


def question_to_claim(question: str) -> str:
    """'Does X improve Y?' -> 'X improves Y'; 'Can X match Y?' -> 'X can match Y';
    'Is X as good as Y?' -> 'X is as good as Y'. Open questions (how/what) stay questions
    framed as what the experiment answers: a fallback must never invent content."""
    q = question.strip().rstrip("?").strip()
    head, _, rest = q.partition(" ")
    aux = head.lower()
    if aux in ("do", "does", "did") and (m := _VERB.search(rest)):
        verb = _third_person(m.group(1)) if aux == "does" else m.group(1)
        claim = rest[:m.start()] + verb + rest[m.end():]
    elif aux in ("can", "could", "will", "would", "should") and (m := _VERB.search(rest)):
        claim = f"{rest[:m.start()]}{aux} {rest[m.start():]}"
    elif aux in ("is", "are") and (m := _COMPARE.search(rest)):
        claim = f"{rest[:m.start()]}{aux} {rest[m.start():]}"
    else:
        return f"A controlled experiment answers: {q}?"
    return claim[0].upper() + claim[1:]


def evidence_for(text: str, evidence: list[Evidence], k: int = 3) -> list[str]:
    scored = sorted(evidence, key=lambda e: -overlap(text, f"{e.method} {e.dataset} {e.metric} {e.span}"))
    return [e.id for e in scored[:k]]


def fill(h: Hypothesis, topic: ResearchTopic, evidence: list[Evidence],
         papers: list[LiteratureRecord], metric: str) -> bool:
    """Fill empty fields from the topic and evidence; True if anything was filled."""
    filled = False
    if not h.motivation.strip():
        ev = next((e for e in evidence if e.id in h.evidence_ids), None)
        h.motivation = (f"Prior work reports {ev.metric} {ev.value:g} ({ev.paper_id}): "
                        f"\"{ev.span[:200]}\"" if ev else
                        f"Related work: {papers[0].title} ({papers[0].id})" if papers else
                        topic.background or topic.problem_statement)
        filled = True
    if not h.expected_effect.strip():
        base = topic.baselines[0] if topic.baselines else "the strongest baseline"
        h.expected_effect = f"{metric} at least as good as {base}, consistent over seeds"
        filled = True
    if not h.risk.strip():
        h.risk = "the difference may be within seed variance on small offline datasets"
        filled = True
    return filled


def templates(topic: ResearchTopic, evidence: list[Evidence], papers: list[LiteratureRecord],
              metric: str, n: int) -> list[Hypothesis]:
    """Deterministic hypotheses grounded in the topic and in real retrieved papers."""
    ds = ", ".join(topic.datasets) or "the task's datasets"
    base = ", ".join(topic.baselines) or "standard baselines"
    measure = f" Measured by {metric} on {ds} against {base}, over several seeds."
    out = [Hypothesis(statement=question_to_claim(topic.problem_statement) + "." + measure,
                      motivation=topic.background)]
    for p in papers[:n]:
        idea = re.sub(r"[:.].*$", "", p.title).strip()
        out.append(Hypothesis(
            statement=(f"Adapting the idea of \"{idea}\" ({p.id}) to {ds} improves {metric} "
                       f"over {base}."), motivation=f"{p.title} ({p.id})"))
    out.append(Hypothesis(statement=(f"A cheaper variant of the approach in question keeps "
                                     f"{metric} within 2% of {base} on {ds} at lower compute."),
                          motivation="efficiency matters under the researcher's resources"))
    for h in out:
        h.evidence_ids = evidence_for(h.statement + " " + h.motivation, evidence, 2)
    return out


def generate(llm: Any, messages: list[dict], topic: ResearchTopic, evidence: list[Evidence],
             papers: list[LiteratureRecord], n: int, retries: int,
             blocked: Callable[[str], str | None]) -> Candidates:
    """LLM candidates, validated and filled; templates top the list up to n."""
    metric = topic_metric(topic)
    c = Candidates()
    try:
        ideas, _ = generate_structured(llm, messages, IdeasOut, retries=retries, max_tokens=700)
    except ModelError as e:
        log.info("hypothesis generation unusable (%s); using templates", e)
        ideas = IdeasOut()
        c.rejected.append({"statement": "", "reason": f"model output unusable: {str(e)[:200]}"})
    c.gaps = [g.strip() for g in ideas.gaps
              if len(g.strip().split()) >= 4 and not is_placeholder(g)][:n]
    for out in ideas.hypotheses:
        reason = why_unusable(out.statement, topic, c.hypotheses) or blocked(out.statement)
        if reason:
            c.rejected.append({"statement": out.statement[:200], "reason": reason})
            continue
        h = Hypothesis(**{k: ("" if is_placeholder(v) else v) for k, v in out.model_dump().items()})
        h.evidence_ids = evidence_for(h.statement, evidence)
        c.paths[h.id] = "llm+filled" if fill(h, topic, evidence, papers, metric) else "llm"
        c.hypotheses.append(h)
    for h in templates(topic, evidence, papers, metric, n):
        if len(c.hypotheses) >= n:
            break
        reason = why_unusable(h.statement, topic, c.hypotheses) or blocked(h.statement)
        if reason:
            c.rejected.append({"statement": h.statement[:200], "reason": reason})
            continue
        fill(h, topic, evidence, papers, metric)
        c.paths[h.id] = "template"
        c.hypotheses.append(h)
    if not c.hypotheses:  # everything blocked: keep the direct claim, flagged in the trace
        h = templates(topic, evidence, papers, metric, 0)[0]
        fill(h, topic, evidence, papers, metric)
        c.paths[h.id] = "template(forced)"
        c.hypotheses.append(h)
    if not c.gaps:
        c.gaps = default_gaps(topic, papers, metric)
    return c


def default_gaps(topic: ResearchTopic, papers: list[LiteratureRecord], metric: str) -> list[str]:
    ds = ", ".join(topic.datasets) or "small offline datasets"
    gaps = [f"No retrieved paper compares {' and '.join(topic.baselines[:2]) or 'the baselines'} "
            f"on {ds} with {metric} over multiple seeds."]
    if papers:
        gaps.append(f"Closest work ({papers[0].id}) studies a different setting than {ds}.")
    return gaps
