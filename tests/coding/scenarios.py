"""Blueprints for the three competent-model domains and a helper that runs the coding
step in freeform mode with a scripted competent answer."""
from __future__ import annotations

from pathlib import Path

from actors.coding import CodingAgent
from nanoresearch.llm.scripted import FunctionModel, ScriptedModel
from nanoresearch.types import Blueprint, CodeArtifact, DatasetSpec, MethodSpec
from tests.coding import competent as C

SCENARIOS = {
    "digits": dict(title="A small CNN for handwritten digits", domain="cv", datasets=["digits"],
                   method=("Small CNN", "two conv blocks trained with Adam"),
                   baselines=["Logistic regression", "Majority class"], metrics=["accuracy", "F1"],
                   primary="accuracy", files=C.digits_files),
    "co2": dict(title="Autoregressive forecasting of co2", domain="timeseries", datasets=["co2"],
                method=("Differenced ridge AR", "ridge regression on 24 differenced lags"),
                baselines=["Naive", "Seasonal naive"], metrics=["MAE", "RMSE"], primary="mae",
                files=C.co2_files),
    "graph": dict(title="Heuristic-feature link prediction", domain="graph", datasets=["les_miserables"],
                  method=("Heuristic logistic link model", "logistic regression over CN, Jaccard, AA, PA"),
                  baselines=["Common neighbours", "Adamic-Adar"], metrics=["AUC", "AP"], primary="auc",
                  files=C.graph_files),
}


def blueprint(name: str, minutes: float = 5) -> Blueprint:
    s = SCENARIOS[name]
    bp = Blueprint(title=s["title"], domain=s["domain"], datasets=[DatasetSpec(name=d) for d in s["datasets"]],
                   proposed_method=MethodSpec(name=s["method"][0], description=s["method"][1]),
                   baselines=[MethodSpec(name=b) for b in s["baselines"]], metrics=s["metrics"],
                   primary_metric=s["primary"], seeds=[0, 1, 2])
    bp.compute_budget.minutes = minutes
    return bp


def write_free(name: str, work: Path, files: dict[str, str] | None = None,
               llm=None) -> tuple[CodingAgent, CodeArtifact]:
    """The coding step in freeform mode answered by the competent stand-in."""
    files = files if files is not None else SCENARIOS[name]["files"]()
    llm = llm or ScriptedModel([C.answer(files, f"{name} codebase")])
    agent = CodingAgent(llm, mode="free", choice={"requested": "freeform", "capability": "strong",
                                                   "why": "test", "model": "scripted:competent"})
    return agent, agent.write(blueprint(name), None, [], work)


__all__ = ["SCENARIOS", "FunctionModel", "blueprint", "write_free"]
