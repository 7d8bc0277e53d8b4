from actors.writing_text import cite_numbers, clean_model_text, safe_model_latex, sanitize_latex


def test_source_numbers_become_cites_and_unknown_ones_vanish():
    assert cite_numbers("Trees [1] and [2, 3] and [1-2] and [9].", ["a", "b", "c"]) == \
        "Trees \\citep{a} and \\citep{b,c} and \\citep{a,b} and."


def test_clean_strips_markdown_and_escapes_but_keeps_whitelisted_markup():
    raw = ("## Introduction\n**Boosted trees** are strong on 50% of tabular_data sets and we show that "
           "\\emph{smoothing} helps them [1] with $\\alpha$ set by the data.")
    latex, how = clean_model_text(raw, ["k1"], "Introduction")
    assert how == "model"
    assert latex.startswith("Boosted trees are strong on 50\\% of tabular\\_data")
    assert "\\emph{smoothing}" in latex and "\\citep{k1}" in latex and "$\\alpha$" in latex


def test_dangerous_and_broken_latex():
    assert safe_model_latex("ok \\input{/etc/passwd}") is None
    assert safe_model_latex("ok \\emph{x}") == "ok \\emph{x}"
    fixed = sanitize_latex("A \\undefinedmacro{x} and \\citep{k1} and {unbalanced} }")
    assert fixed == "A \\textbackslash{}undefinedmacro{x} and \\citep{k1} and {unbalanced} \\}"
    assert sanitize_latex("cost $5 here") == "cost \\$5 here"


def test_sentences_repeated_across_sections_are_dropped():
    from actors.writing_text import drop_seen
    seen: set = set()
    assert drop_seen("Trees are a topic of research. Boosting helps.", seen) == \
        "Trees are a topic of research. Boosting helps."
    assert drop_seen("Trees are a topic of research.\n\nSmoothing is new.", seen) == "Smoothing is new."


def test_the_introduction_does_not_restate_the_background_as_motivation():
    """mm_02: the hypothesis' motivation was the topic background again, so the rule-built
    introduction said "Late fusion averages per-modality probabilities; ..." twice."""
    from actors.writing_context import _restates

    bg = "Late fusion averages per-modality probabilities; early fusion concatenates features. It depends."
    assert _restates("Late fusion averages per-modality probabilities; early fusion concatenates features. "
                     "Their merit depends on modality strength.", bg)
    assert not _restates("Noise in one modality hurts early fusion most.", bg)
