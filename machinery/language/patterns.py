"""The regular expressions a condition's `matches` takes: RE2's syntax, matched in time linear in
the text, so that no pattern a workflow declares and no value an event brings can make a
condition run away (no backtracking: no backreferences, no lookaround)."""

from functools import lru_cache

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the caller's error, not a log line


class PatternError(ValueError):
    """A pattern RE2 cannot compile; the message says why."""


@lru_cache(maxsize=256)
def compile_pattern(text: str):
    """The compiled pattern (PatternError when RE2 refuses it)."""
    try:
        return re2.compile(text, _OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None
