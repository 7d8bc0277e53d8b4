"""The paper says what code ran: coding_notes.json and tree.json become method facts
(mode, who wrote the method, the family that ran, a fallback, the search's selection)."""
import json
from types import SimpleNamespace

from actors.writing_context import PaperInputs


def provenance(tmp_path, notes, tree=None):
    code = tmp_path / "experiment" / "code"
    code.mkdir(parents=True)
    (code / "coding_notes.json").write_text(json.dumps(notes))
    if tree:
        (tmp_path / "experiment" / "tree.json").write_text(json.dumps(tree))
    return PaperInputs.code_provenance(SimpleNamespace(workspace_root=tmp_path))


def test_seeded_default_family_and_fallback_are_stated(tmp_path):
    out = provenance(tmp_path, {"mode": "seeded", "method_source": "default", "method_family": "random_forest",
                                "fallback": "free mode was chosen but seeded ran: model output unusable"})
    assert out[0] == "The experiment code ran in seeded mode: the scaffold's default model family (random forest)."
    assert out[1].startswith("Fallback: free mode was chosen but seeded ran")


def test_freeform_code_and_search_selection_are_stated(tmp_path):
    tree = {"primary_metric": "mae", "nodes": [{"status": "good"}, {"status": "buggy"}, {"status": "good"}]}
    out = provenance(tmp_path, {"mode": "free", "method_source": "llm_files", "model": "openai:gpt-4o"}, tree)
    assert "written entirely by the coding model (openai:gpt-4o)" in out[0]
    assert out[1] == ("The code was selected from 3 code-search node(s) (2 working) by validation mae, "
                      "never by test scores.")


def test_no_notes_no_claims(tmp_path):
    assert PaperInputs.code_provenance(SimpleNamespace(workspace_root=None)) == []
    assert PaperInputs.code_provenance(SimpleNamespace(workspace_root=tmp_path)) == []
