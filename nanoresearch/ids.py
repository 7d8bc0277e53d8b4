"""The one rule for user ids, used by every layer that keys data by user.

A user id names a directory (profiles, adapters, planner logs), a token owner and a
planner route (`planner:<user>`; `user@v3` is Serve's multiplexed id, so '@' is not
allowed). Before this module three rules disagreed (64 vs 128 characters, '@' allowed or
not), so an id valid in one layer could not be served by another.
"""
from __future__ import annotations

import re

from nanoresearch.errors import UserError

USER_ID_MAX = 64
USER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,%d}$" % (USER_ID_MAX - 1))


def is_user_id(user_id: object) -> bool:
    return isinstance(user_id, str) and bool(USER_ID_RE.match(user_id))


def check_user_id(user_id: object) -> str:
    """Return `user_id` or raise UserError saying what a valid id looks like."""
    if not is_user_id(user_id):
        raise UserError(f"user id {user_id!r} is invalid (not usable as a directory or route "
                        f"name): use 1-{USER_ID_MAX} letters, digits, '_', '.' or '-', starting "
                        "with a letter or digit")
    return user_id  # type: ignore[return-value]
