"""Stage I end to end with the real embedded SmolLM2 and the real 100k-record library:
a schema-valid blueprint whose papers are real library records, evidence with spans, a
novelty verdict and the reviewer history. Budgets are small to keep it a few minutes."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from nanoresearch.config import Budgets, _default_library
from nanoresearch.types import (Blueprint, IdeationResult, PlanningResult, ResearchTopic,
                                Resources, UserProfile)

TOPIC = ResearchTopic(
    question_id="tabular_real", domain="tabular",
    background="Tree ensembles are strong on small tabular datasets.",
    problem_statement="Does gradient boosting outperform random forests on small tabular "
                      "classification datasets such as wine?",
    baselines=["random forest", "logistic regression"], datasets=["wine"],
    user_requirements=["accuracy", "3 seeds"])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_stage_one_with_embedded_smollm2(settings):
    registry = pytest.importorskip("nanoresearch.llm.registry")
    if not _default_library():
        pytest.skip("shared/literature/arxiv_ml.jsonl.gz not found")
    from actors.ideation import IdeationAgent
    from actors.planning import PlanningAgent
    from nanoresearch.literature import LiteratureSearch, LocalLibrary
    try:
        from nanoresearch.datasets import get_catalog
        catalog = get_catalog()
    except ImportError:
        pytest.skip("nanoresearch.datasets not available")
    llm = registry.make_llm("embedded:smollm2", settings)
    cache = Path(tempfile.gettempdir()) / "nanoresearch-test-literature-cache"  # shared with tests/literature
    library = LocalLibrary(_default_library(), cache)
    budgets = Budgets(react_steps=2, hypotheses=1, structured_retries=0, blueprint_rounds=2)
    profile = UserProfile(user_id="u1", resources=Resources(cpus=2, gpus=0, hours=1.0))

    ide = IdeationAgent(llm, LiteratureSearch([library]), budgets).run(TOPIC, profile)
    ide = IdeationResult.model_validate_json(ide.model_dump_json())
    assert ide.papers and all(library.get(p.id) is not None for p in ide.papers)
    assert ide.evidence
    abstracts = {p.id: p.abstract for p in ide.papers}
    for e in ide.evidence:
        assert e.span and e.span in abstracts[e.paper_id]
    hyp = ide.selected()
    assert hyp is not None and hyp.novelty is not None
    assert library.get(hyp.novelty.closest_paper_id) is not None and hyp.novelty.rationale
    assert [t for t in ide.react_trace if "step" in t]  # the ReAct loop ran and was traced

    planner = PlanningAgent(llm, llm, catalog, budgets)
    res = planner.run(TOPIC, profile, hyp)
    res = PlanningResult.model_validate_json(res.model_dump_json())
    Blueprint.model_validate(res.blueprint.model_dump())
    assert res.critiques and [c.round for c in res.critiques] == list(range(1, len(res.critiques) + 1))
    assert all(d.name in catalog for d in res.blueprint.datasets)
    assert res.blueprint.baselines and res.blueprint.primary_metric
    assert res.blueprint.compute_budget.gpus == 0
    library.close()
