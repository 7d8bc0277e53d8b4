"""Model edits: unified diffs over several files apply with validation; a hunk that does
not apply is reported precisely (file, hunk number, first missing line)."""
import pytest

from nanoresearch.execution.patching import FixReply, PatchError, apply_reply, apply_unified_diff, unified_diff
from tests.coding import competent as C

BROKEN = C.DIGITS_MODEL.replace("2 * channels * 2 * 2", "2 * channels * 3 * 3")


def test_unified_diff_round_trip_multi_file():
    old = C.digits_files(model=BROKEN)
    new = {**C.digits_files(), "notes.py": "FIXED = True\n"}
    assert apply_unified_diff(old, unified_diff(old, new, limit=100000)) == new


def test_reply_with_a_diff_is_applied_and_summarised():
    old = C.digits_files(model=BROKEN)
    diff = unified_diff(old, C.digits_files())
    new, summary = apply_reply(FixReply(diff=diff, reason="flattened size is 32*2*2"), old, "run.py")
    assert new["model.py"] == C.DIGITS_MODEL and summary == "diff over model.py"


def test_hunk_that_does_not_apply_is_reported_precisely():
    diff = ("--- a/model.py\n+++ b/model.py\n@@ -1,2 +1,2 @@\n HIDDEN = 64\n-EPOCHS = 99\n+EPOCHS = 5\n")
    with pytest.raises(PatchError, match=r"hunk 1 of model.py does not apply.*EPOCHS = 99"):
        apply_unified_diff(C.digits_files(), diff)
    with pytest.raises(PatchError, match="not part of the code"):
        apply_unified_diff(C.digits_files(), diff.replace("model.py", "nope.py"))
    with pytest.raises(PatchError, match="no hunks"):
        apply_unified_diff(C.digits_files(), "just prose")


def test_diff_that_breaks_syntax_is_rejected():
    old = C.co2_files()
    bad = unified_diff(old, {**old, "forecast.py": old["forecast.py"].replace("def naive(train, h):", "def naive(train, h:")})
    with pytest.raises(PatchError, match="does not parse"):
        apply_reply(FixReply(diff=bad), old, "run.py")
