"""The review -> revise loop of Stage III.

Round r: the reviewers score the current draft; the meta-review's overall score is
compared with the threshold; below it (and with revision rounds left) the writer rewrites
the sections named in the revision requests and recompiles. Every round's reviews, the
scores, the requests and a copy of that round's PDF and draft are saved under the paper
directory; at the end the best-scoring round's PDF and draft are restored, so a
revision that made things worse never becomes the final paper.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from nanoresearch import artifacts as A
from nanoresearch.config import Budgets
from nanoresearch.types import PaperDraft, Review, WritingResult
from nanoresearch.workspace import atomic_write_json

log = logging.getLogger(__name__)


def _snapshot(draft: PaperDraft, paper_dir: Path, rnd: int) -> Path:
    snap = paper_dir / "history" / f"round_{rnd}"
    snap.mkdir(parents=True, exist_ok=True)
    atomic_write_json(snap / A.DRAFT.name, draft)
    if draft.compiled and draft.pdf_path and Path(draft.pdf_path).exists():
        shutil.copyfile(draft.pdf_path, snap / A.PAPER_PDF.name)
    for name in (A.PAPER_TEX.name, "sections"):
        src = paper_dir / name
        if src.is_dir():
            shutil.copytree(src, snap / name, dirs_exist_ok=True)
        elif src.exists():
            shutil.copyfile(src, snap / name)
    return snap


def _restore(paper_dir: Path, rnd: int) -> PaperDraft:
    snap = paper_dir / "history" / f"round_{rnd}"
    draft = PaperDraft.model_validate_json((snap / A.DRAFT.name).read_text())
    if (snap / A.PAPER_PDF.name).exists():
        shutil.copyfile(snap / A.PAPER_PDF.name, A.PAPER_PDF.at(paper_dir))
        draft.pdf_path = str(A.PAPER_PDF.at(paper_dir))
    if (snap / "sections").is_dir():
        shutil.rmtree(paper_dir / "sections", ignore_errors=True)
        shutil.copytree(snap / "sections", paper_dir / "sections")
    if (snap / A.PAPER_TEX.name).exists():
        shutil.copyfile(snap / A.PAPER_TEX.name, A.PAPER_TEX.at(paper_dir))
    atomic_write_json(A.DRAFT.at(paper_dir), draft)
    return draft


def _scores(meta: Review) -> dict:
    return {k: getattr(meta, k) for k in ("overall", "soundness", "presentation", "contribution", "confidence")}


def revise_loop(writer, reviewer, draft: PaperDraft, paper_dir: Path, budgets: Budgets,
                venue: str = "conference") -> WritingResult:
    """`writer` has `.revise(draft, requests, round)`, `reviewer` `.review(draft, paper_dir,
    round, venue)`; returns the final (best) draft with every round's reviews."""
    paper_dir = Path(paper_dir)
    history: list[dict] = []
    all_reviews: list[Review] = []
    revisions = 0
    for rnd in range(1, budgets.review_rounds + 2):
        reviews = reviewer.review(draft, paper_dir, round=rnd, venue=venue)
        meta = reviews[-1]
        all_reviews += reviews
        atomic_write_json(A.REVIEW_ROUND.at(paper_dir, round=rnd), [r.model_dump(mode="json") for r in reviews])
        _snapshot(draft, paper_dir, rnd)
        entry = {"round": rnd, "meta": _scores(meta), "reviewers": [_scores(r) for r in reviews[:-1]],
                 "requests": meta.revision_requests, "compiled": draft.compiled, "problems": draft.problems}
        history.append(entry)
        if meta.overall >= budgets.review_threshold:
            entry["stop"] = f"meta overall {meta.overall} >= threshold {budgets.review_threshold:g}"
            break
        if rnd > budgets.review_rounds:
            entry["stop"] = f"round limit: {budgets.review_rounds} revision round(s) used"
            break
        draft = writer.revise(draft, meta.revision_requests, round=rnd)
        revisions += 1
        revised = [e.outcome for e in getattr(writer, "events", []) if e.step == "revise"]
        entry["revised_sections"] = revised[-1:]
    best = max(history, key=lambda h: (h["meta"]["overall"], h["round"]))
    if best["round"] != history[-1]["round"]:
        log.info("round %d scored best (%d); restoring it", best["round"], best["meta"]["overall"])
        draft = _restore(paper_dir, best["round"])
    atomic_write_json(A.REVISION_HISTORY.at(paper_dir),
                      {"rounds": history, "best_round": best["round"], "threshold": budgets.review_threshold,
                       "max_revision_rounds": budgets.review_rounds})
    return WritingResult(draft=draft, reviews=all_reviews, pdf_path=draft.pdf_path,
                         rounds=revisions)
