"""The debugging agent and the auto-debug loop with a scripted model, real executors."""
from __future__ import annotations

import json

import pytest

from actors.debugging import (DebuggingAgent, debug_loop, failure_trigger, lessons_from_fix,
                              numbered_snippet, parse_failure)
from nanoresearch.config import Budgets
from nanoresearch.errors import UserError
from nanoresearch.execution import Limits, LocalExecutor, SandboxExecutor
from nanoresearch.execution.fixers import deterministic_fix
from nanoresearch.execution.sandbox import sandbox_problem
from nanoresearch.execution.patching import FixReply, PatchError, apply_reply
from nanoresearch.llm.scripted import ScriptedModel
from nanoresearch.types import (CodeArtifact, FailureInfo, RunResult, RunStatus, SkillEntry,
                                SkillStage)

LIMITS = Limits(timeout_s=30, memory_mb=1024, disk_mb=50)
SHAPE_BUG = '''import json
import numpy as np


def project(x):
    w = np.ones((3, 4))
    return np.dot(x, w)


x = np.random.default_rng(0).normal(size=(5, 4))
y = project(x)
rows = [dict(method="proj", dataset="synthetic", metric="mean", value=float(y.mean()), seed=0)]
json.dump(rows, open("metrics.json", "w"))
'''
PATCH = {"file": "run.py", "search": "return np.dot(x, w)", "replace": "return np.dot(x, w.T)",
         "reason": "w must be (4, 3) to multiply x of shape (5, 4)"}


def executor():
    return SandboxExecutor(LIMITS) if sandbox_problem() is None else LocalExecutor(LIMITS)


def events_recorder():
    events: list[tuple[str, dict]] = []
    return events, lambda kind, data: events.append((kind, json.loads(json.dumps(data))))


def test_debug_loop_fixes_planted_shape_bug_with_scripted_model(tmp_path):
    llm = ScriptedModel([PATCH])
    agent = DebuggingAgent(llm, Budgets())
    events, on_event = events_recorder()
    code = CodeArtifact(files={"run.py": SHAPE_BUG})
    final, runs = debug_loop(code, tmp_path / "wd", executor(), agent, attempts=3, on_event=on_event)

    assert [r.status for r in runs] == [RunStatus.FAILED, RunStatus.SUCCEEDED]
    assert runs[0].failure.file == "run.py" and runs[0].failure.line == 7
    assert "not aligned" in runs[0].failure.message
    assert "np.dot(x, w.T)" in final.files["run.py"] and final.version == 2
    assert runs[1].metrics[0].dataset == "synthetic"
    kinds = [k for k, _ in events]
    assert kinds == ["run", "failure", "fix", "run", "outcome"]
    fix = dict(events)["fix"]
    assert fix["source"] == "llm" and fix["llm_valid"] and "w.T" in fix["diff"]
    assert dict(events)["outcome"]["resolved"] is True
    # the prompt showed the model the failing line with its number and the error
    prompt = llm.calls[0][-1].content
    assert "   7|     return np.dot(x, w)" in prompt and "not aligned" in prompt


def test_unusable_model_patch_falls_back_to_deterministic_rule(tmp_path):
    code = CodeArtifact(files={"run.py": "import json\nx = np.arange(3)\n"
                               "json.dump([dict(method='m', dataset='d', metric='s', value=float(x.sum()))],"
                               " open('metrics.json', 'w'))\n"})
    bad = {"file": "run.py", "search": "this text is not in the file", "replace": "x"}
    agent = DebuggingAgent(ScriptedModel([bad, bad]), Budgets(structured_retries=0))
    events, on_event = events_recorder()
    final, runs = debug_loop(code, tmp_path / "wd", executor(), agent, attempts=2, on_event=on_event)
    assert runs[-1].status == RunStatus.SUCCEEDED and len(runs) == 2
    rec = agent.history[0]
    assert rec.llm_attempted and not rec.llm_valid and "not found" in rec.llm_error
    assert rec.source == "missing_import" and rec.generalizable
    assert final.files["run.py"].startswith("import numpy as np\n")


def test_budget_is_respected_and_failures_reported(tmp_path):
    code = CodeArtifact(files={"run.py": "raise RuntimeError('always broken')\n"})
    useless = {"file": "run.py", "search": "always broken", "replace": "still broken"}
    agent = DebuggingAgent(ScriptedModel([useless, {"file": "run.py", "search": "still broken",
                                                    "replace": "broken again"}]), Budgets())
    events, on_event = events_recorder()
    final, runs = debug_loop(code, tmp_path / "wd", LocalExecutor(LIMITS), agent, attempts=2,
                             on_event=on_event)
    assert len(runs) == 3 and all(r.status == RunStatus.FAILED for r in runs)
    assert [r.attempt for r in runs] == [1, 2, 3]
    assert [k for k, _ in events].count("failure") == 3
    assert all(not d["resolved"] for k, d in events if k == "outcome")


def test_loop_gives_up_when_no_patch_is_usable(tmp_path):
    code = CodeArtifact(files={"run.py": "raise SystemExit('no metrics for you')\n"})
    agent = DebuggingAgent(ScriptedModel(["not json at all"], cycle_last=True),
                           Budgets(structured_retries=1))
    events, on_event = events_recorder()
    final, runs = debug_loop(code, tmp_path / "wd", LocalExecutor(LIMITS), agent, attempts=3,
                             on_event=on_event)
    assert len(runs) == 1 and events[-1][0] == "gave_up"
    assert final is code and agent.history[0].source == "none"
    assert "StructuredOutputError" in agent.history[0].llm_error


def test_repeated_failure_prefers_rules_over_the_model(tmp_path):
    # the model "fixes" something irrelevant; the same NameError comes back, so the
    # agent tries the deterministic rule first the second time
    code = CodeArtifact(files={"run.py": "import json\nvals = [1, 2]\nprint('x')\n"
                               "json.dump([dict(method='m', dataset='d', metric='n', value=len(valz))],"
                               " open('metrics.json', 'w'))\n"})
    agent = DebuggingAgent(ScriptedModel([{"file": "run.py", "search": "print('x')",
                                           "replace": "print('y')"}]), Budgets())
    final, runs = debug_loop(code, tmp_path / "wd", LocalExecutor(LIMITS), agent, attempts=3)
    assert [r.status for r in runs][-1] == RunStatus.SUCCEEDED and len(runs) == 3
    assert [h.source for h in agent.history] == ["llm", "name_typo"]
    assert "len(vals)" in final.files["run.py"]


def test_a_model_patch_that_follows_an_offered_skill_cites_it(tmp_path):
    """A distilled debug skill is prose (no replace rule), so only a model can apply it: the
    prompt names it by id, the patch says it followed it, and the outcome event carries the
    id, so the skill's usage and success are counted like a rule fix's."""
    follow = SkillEntry(stage=SkillStage.DEBUGGING, name="transpose the weight",
                        trigger=r"shapes \(\d+,\d+\) and \(\d+,\d+\) not aligned",
                        instructions=["np.dot of an input and a weight of the wrong orientation: use w.T"])
    other = SkillEntry(stage=SkillStage.DEBUGGING, name="scale inputs", trigger="",
                       instructions=["add StandardScaler before a linear model"])
    elsewhere = SkillEntry(stage=SkillStage.DEBUGGING, name="import numpy", trigger="NameError",
                           instructions=["add import numpy as np"])
    llm = ScriptedModel([{**PATCH, "skills": [follow.id, elsewhere.id, "made-up-id"]}])
    agent = DebuggingAgent(llm, Budgets())
    events, on_event = events_recorder()
    final, runs = debug_loop(CodeArtifact(files={"run.py": SHAPE_BUG}), tmp_path / "wd", executor(), agent,
                             attempts=2, on_event=on_event, skills=[follow, other, elsewhere])
    assert runs[-1].status == RunStatus.SUCCEEDED
    prompt = llm.calls[0][-1].content
    assert f"[{follow.id}] transpose the weight" in prompt and f"[{other.id}]" in prompt
    assert elsewhere.id not in prompt  # its trigger does not match this failure: not offered
    rec = agent.history[0]
    assert rec.source == "llm" and rec.skills_cited == [follow.id]  # only offered ones count
    outcome = next(d for k, d in events if k == "outcome")
    assert outcome["skills_cited"] == [follow.id] and outcome["resolved"]


def test_skill_rule_fixes_known_shape_pattern():
    skill = SkillEntry(stage=SkillStage.DEBUGGING, name="transpose weight in np.dot",
                       trigger=r"shapes \(\d+,\d+\) and \(\d+,\d+\) not aligned",
                       instructions=[r"replace: np\.dot\((\w+), (\w+)\) => np.dot(\1, \2.T)"])
    failure = FailureInfo(category="exception", file="run.py", line=7,
                          message="ValueError: shapes (5,4) and (3,4) not aligned: 4 (dim 1) != 3 (dim 0)")
    fix = deterministic_fix(failure, {"run.py": SHAPE_BUG}, [skill])
    assert fix.rule == f"skill:{skill.id}" and "np.dot(x, w.T)" in fix.content


@pytest.mark.parametrize("message,expected", [
    ("NameError: name 'np' is not defined", "import numpy as np"),
    ("NameError: name 'math' is not defined", "import math"),
    ("NameError: name 'train_test_split' is not defined",
     "from sklearn.model_selection import train_test_split"),
])
def test_missing_import_rule(message, expected):
    src = '"""doc"""\nfrom __future__ import annotations\nprint(1)\n'
    fix = deterministic_fix(FailureInfo(category="exception", message=message, file="a.py", line=3),
                            {"a.py": src})
    assert fix.rule == "missing_import"
    assert fix.content.splitlines()[2] == expected  # after the docstring and __future__


def test_apply_reply_fuzzy_whole_file_and_rejections():
    files = {"run.py": "def f():\n    return 1\n"}
    new, _ = apply_reply(FixReply(search="return 1", replace="return 2"), files, "run.py")
    assert new["run.py"] == "def f():\n    return 2\n"
    new, _ = apply_reply(FixReply(search="  return 1  ", replace="return 3"), files, "run.py")
    assert new["run.py"] == "def f():\n    return 3\n"  # stripped match, re-indented
    two = {"run.py": "import json\nroots = [math.sqrt(v) for v in values]\nprint(roots)\n"}
    new, _ = apply_reply(FixReply(search="roots = [math.sqrt(v) for v in values}",
                                  replace="import math\nroots = [math.sqrt(v) for v in values]"),
                         two, "run.py")
    assert new["run.py"].splitlines()[1:3] == ["import math", "roots = [math.sqrt(v) for v in values]"]
    new, summary = apply_reply(FixReply(content="print('hi')"), files, "run.py")
    assert new["run.py"] == "print('hi')\n" and summary == "rewrote run.py"
    for reply, err in [(FixReply(search="return 1", replace="return ("), "does not parse"),
                       (FixReply(search="nothing like it", replace="x"), "not found"),
                       (FixReply(file="../etc/x.py", content="x=1"), "relative path"),
                       (FixReply(file="other.py", search="a", replace="b"), "not part of the code"),
                       (FixReply(search="return 1", replace="return 1"), "changes nothing"),
                       (FixReply(reason="only prose"), "neither")]:
        with pytest.raises(PatchError, match=err):
            apply_reply(reply, files, "run.py")


def test_parse_failure_and_snippet():
    ok = RunResult(status=RunStatus.SUCCEEDED)
    with pytest.raises(UserError):
        parse_failure(ok)
    tb = ('Traceback (most recent call last):\n  File "/work_dir/run.py", line 4, in <module>\n'
          '    foo()\nKeyError: \'lr\'\n')
    res = RunResult(status=RunStatus.FAILED, stderr_tail=tb)
    f = parse_failure(res)
    assert (f.category, f.file, f.line) == ("exception", "run.py", 4) and f.traceback
    assert parse_failure(RunResult(status=RunStatus.TIMEOUT)).category == "timeout"
    text = "\n".join(f"line{i}" for i in range(1, 200))
    snip = numbered_snippet(text, 100, radius=2)
    assert snip.splitlines() == ["  98| line98", "  99| line99", " 100| line100", " 101| line101",
                                 " 102| line102"]


def test_lessons_from_a_resolved_fix_become_memory_and_skill(tmp_path):
    code = CodeArtifact(files={"run.py": "import json\nx = np.arange(3)\n"
                               "json.dump([dict(method='m', dataset='d', metric='s', value=1.0)],"
                               " open('metrics.json', 'w'))\n"})
    agent = DebuggingAgent(ScriptedModel(["{}"]), Budgets(structured_retries=0), patch_retries=0)
    _, runs = debug_loop(code, tmp_path / "wd", LocalExecutor(LIMITS), agent, attempts=1)
    assert runs[-1].status == RunStatus.SUCCEEDED
    memory, skill = lessons_from_fix(agent.history[0], True, user_id="u1", project_id="p1",
                                     domain="tabular")
    assert memory.user_id == "u1" and "resolved it" in memory.content and "np" in memory.content
    assert skill.stage == SkillStage.DEBUGGING and skill.instructions == ["added `import numpy as np`"]
    assert re_search(skill.trigger, "NameError: name 'pd' is not defined")
    memory, skill = lessons_from_fix(agent.history[0], False, user_id="u1")
    assert skill is None and memory.category == "failed_direction"
    assert failure_trigger(FailureInfo(category="timeout", message="")) == "timeout"


def re_search(pattern: str, text: str) -> bool:
    import re
    return re.search(pattern, text) is not None


def test_write_code_never_writes_through_planted_links(tmp_path):
    from actors.debugging import write_code
    outside = tmp_path / "outside"
    outside.mkdir()
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "run.py").symlink_to(outside / "victim.py")
    (wd / "data").symlink_to(outside)
    write_code(wd, CodeArtifact(files={"run.py": "print(1)\n"}))
    assert not (outside / "victim.py").exists() and (wd / "run.py").read_text() == "print(1)\n"
    with pytest.raises(UserError, match="links outside"):
        write_code(wd, CodeArtifact(files={"data/x.py": "x = 1\n"}))
    assert not (outside / "x.py").exists()
