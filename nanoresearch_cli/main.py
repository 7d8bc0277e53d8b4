"""nanoresearch command line.

    nanoresearch doctor                               # what is installed, what to install
    nanoresearch profile init --user alice            # interactive questionnaire
    nanoresearch run --topic "..." [--user alice]     # the main job: all three stages
    nanoresearch run --task benchmarks/tasks/nlp_01.json
    nanoresearch ideate --topic "..."                 # Stage I only
    nanoresearch status [PROJECT]                     # project(s) and their steps
    nanoresearch resume PROJECT                       # continue after a crash / kill -9
    nanoresearch run --detach ...; nanoresearch attach PROJECT   # leave it running, follow later
    nanoresearch feedback PROJECT --phase ideation --text "prefer simpler baselines"
    nanoresearch skills list|search|show|delete ...   # the skill bank
    nanoresearch memories list|search|delete ...      # the memory module
    nanoresearch adapters list|rollback --user alice  # the planner adapter's versions
    nanoresearch serve                                # Ray Serve: planner + HTTP API + web page
    nanoresearch submit -- run --topic "..."          # the same entry point via `ray job submit`
    nanoresearch admin users|issue|revoke|remove ...  # API users and tokens

Every command takes --config FILE and --set section.field=value overrides.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from nanoresearch import offline
from nanoresearch.errors import NanoResearchError, UserError
from nanoresearch_cli import commands


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML config file (default: $NANORESEARCH_CONFIG or "
                   "<data_dir>/config.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V",
                   help="override a setting, e.g. --set budgets.review_rounds=2")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="nanoresearch", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    p = sub.add_parser("doctor", help="report what is available and what to install")
    _common(p)

    for name, hlp in (("run", "run a full research cycle (the main job)"),
                      ("ideate", "run Stage I only (literature -> hypothesis -> blueprint)")):
        p = sub.add_parser(name, help=hlp)
        _common(p)
        src = p.add_mutually_exclusive_group(required=True)
        src.add_argument("--topic", help="the research topic, in words")
        src.add_argument("--task", help="a task JSON file in the benchmark schema")
        p.add_argument("--user", default="default", help="user id (default: default)")
        p.add_argument("--domain", default=None, help="domain for --topic (nlp, cv, multimodal, "
                       "tabular, timeseries, graph, audio); guessed when omitted")
        p.add_argument("--project", default=None, help="project id (default: new)")
        p.add_argument("--feedback", choices=["skip", "interactive", "http"], default=None,
                       help="ask for feedback after each stage (default from config: skip)")
        p.add_argument("--no-ray", action="store_true",
                       help="run the agents in this process instead of as Ray actors")
        p.add_argument("--detach", action="store_true",
                       help="start the project's orchestrator actor and return; "
                            "`nanoresearch attach PROJECT` follows it")

    p = sub.add_parser("resume", help="continue a project from its last finished step")
    _common(p)
    p.add_argument("project")
    p.add_argument("--feedback", choices=["skip", "interactive", "http"], default=None)
    p.add_argument("--no-ray", action="store_true")
    p.add_argument("--detach", action="store_true")

    p = sub.add_parser("attach", help="follow a running project's orchestrator (Ctrl-C detaches)")
    _common(p)
    p.add_argument("project")

    p = sub.add_parser("status", help="show projects, or one project's steps")
    _common(p)
    p.add_argument("project", nargs="?")
    p.add_argument("--user", default=None)

    p = sub.add_parser("feedback", help="give feedback on a finished stage (trains the planner)")
    _common(p)
    p.add_argument("project")
    p.add_argument("--phase", required=True, choices=["ideation", "experiment", "writing"])
    p.add_argument("--text", required=True)
    p.add_argument("--wait", action="store_true", help="wait for the planner update to finish")
    p.add_argument("--no-ray", action="store_true", help="train in this process, not as a Ray Train job")

    p = sub.add_parser("profile", help="create or show a user profile")
    _common(p)
    p.add_argument("action", choices=["init", "show"])
    p.add_argument("--user", default="default")

    for kind in ("skills", "memories"):
        p = sub.add_parser(kind, help=f"browse the {kind}")
        _common(p)
        p.add_argument("action", choices=["list", "search", "show", "delete", "export", "import"])
        p.add_argument("arg", nargs="?", help="query, id, or file (export/import)")
        p.add_argument("--user", default="default")
        p.add_argument("-k", type=int, default=10)

    p = sub.add_parser("adapters", help="the user's planner LoRA versions; serve an earlier one")
    _common(p)
    p.add_argument("action", choices=["list", "rollback"])
    p.add_argument("--user", default="default")
    p.add_argument("--to", type=int, default=None, dest="to_version",
                   help="rollback: the version to serve (default: the current one's parent; "
                        "rolling back from v1 serves the base model)")

    p = sub.add_parser("serve", help="start Ray Serve: planner route + HTTP API + web page")
    _common(p)
    p.add_argument("--no-planner", action="store_true", help="serve the API only")
    p.add_argument("--block", action="store_true", help="keep running until Ctrl-C")

    p = sub.add_parser("submit", help="run a command on a Ray cluster via `ray job submit`")
    _common(p)
    p.add_argument("--address", default=None, help="Ray dashboard address (default: $RAY_ADDRESS)")
    p.add_argument("--no-wait", action="store_true")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="-- then the nanoresearch command")

    p = sub.add_parser("admin", help="API users: list, issue or revoke tokens, remove a user")
    _common(p)
    p.add_argument("action", choices=["users", "issue", "revoke", "remove"])
    p.add_argument("user", nargs="?", help="user id (all actions but `users`)")
    p.add_argument("--token-id", default=None, help="for revoke: the id `admin users` lists")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    offline.apply()  # offline by default; no library progress bars over our stage progress
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    commands.setup_logging(level)
    try:
        return commands.dispatch(args)
    except KeyboardInterrupt:
        print("interrupted; `nanoresearch resume <project>` continues from the last finished step",
              file=sys.stderr)
        return 130
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except NanoResearchError as e:
        print(f"failed: {e}", file=sys.stderr)
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
