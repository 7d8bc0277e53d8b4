"""CLI input that once crashed or leaked (issue 15: L1, L2, L4, M4): topics with rich
markup, a corrupt project.json, a non-UTF-8 task file, user administration, and the
environment `submit` ships to a Ray job."""
from __future__ import annotations

import pytest
from rich.console import Console

from nanoresearch.types import ProjectState, ResearchTopic
from nanoresearch_cli import commands
from nanoresearch_cli.main import main


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setattr(commands, "console", Console(width=200, force_terminal=False, record=True))
    return tmp_path / "home"


def _args(home, *rest: str) -> list[str]:
    return [*rest, "--set", f"data_dir={home}"]


def _project(home, pid: str, problem: str) -> None:
    d = home / "projects" / pid
    d.mkdir(parents=True)
    st = ProjectState(project_id=pid, user_id="alice", topic=ResearchTopic(problem_statement=problem))
    (d / "project.json").write_text(st.model_dump_json())


def test_status_prints_markup_in_topics_literally(home):
    _project(home, "p-1", "Does [/] break [bold]rich[/bold]? [red]x")
    (home / "projects" / "p-bad").mkdir()
    (home / "projects" / "p-bad" / "project.json").write_text("{not json")  # one corrupt project
    assert main(_args(home, "status")) == 0
    out = commands.console.export_text()
    assert "p-1" in out and "[/]" in out and "[bold]rich" in out
    assert main(_args(home, "status", "p-1")) == 0


def test_non_utf8_task_file_is_a_clear_error(home, tmp_path, capsys):
    task = tmp_path / "task.json"
    task.write_bytes(b'{"problem_statement": "caf\xe9 au lait"}')
    assert main(_args(home, "run", "--task", str(task), "--no-ray")) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_admin_users_issue_revoke_remove(home):
    from serve.auth import TokenAuth, tokens_path

    assert main(_args(home, "admin", "issue", "alice")) == 0
    token = commands.console.export_text().split("(shown once): ")[1].split()[0]
    auth = TokenAuth(tokens_path(home))
    assert auth.verify(token) == "alice"
    main(_args(home, "admin", "issue", "alice"))
    tid = auth.users()["alice"][0]["token_id"]
    assert main(_args(home, "admin", "users")) == 0 and tid in commands.console.export_text()
    assert main(_args(home, "admin", "revoke", "alice", "--token-id", tid)) == 0
    assert auth.verify(token) is None and len(auth.users()["alice"]) == 1
    assert main(_args(home, "admin", "remove", "alice")) == 0
    assert auth.users() == {}
    assert main(_args(home, "admin", "issue", "../x")) == 2


