"""Helpers shared by the hostile programs (copied next to each one in its work dir).

A program prints ESCAPED: <what> whenever a forbidden action succeeds; the test fails on
that line and, independently, checks the host itself (markers, canaries, processes).
"""
import json
import os

PARAMS = json.load(open("hostile.json")) if os.path.exists("hostile.json") else {}


def escaped(what: str) -> None:
    print(f"ESCAPED: {what}", flush=True)


def attempt(what, fn):
    try:
        out = fn()
    except BaseException as e:  # noqa: BLE001 - any refusal is the expected outcome
        print(f"denied: {what}: {type(e).__name__}: {e}", flush=True)
        return None
    escaped(f"{what} -> {str(out)[:200]}")
    return out
