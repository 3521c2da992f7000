"""What can go wrong, and the exit status each outcome gets.

``UserError`` is the base of every domain error a user can cause and fix (a spec, a genome, a run
directory, a bundle, a ledger, a cluster that is not there): the CLI prints its one line and exits
with ``EXIT_USAGE``. Anything else is a bug in aiperf: the CLI prints the traceback and exits with
``EXIT_INTERNAL``. ``UserError`` is a ``ValueError`` so that library callers catching
``ValueError`` (and pydantic validators) keep working.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # ``aiperf check``: the bundle was read and fails at least one check
EXIT_USAGE = 2  # a UserError: one line on stderr
EXIT_INTERNAL = 3  # an unexpected exception: a bug, reported with its traceback
EXIT_INTERRUPTED = 130  # stopped by SIGINT / SIGTERM (128 + SIGINT), as shells report it


class UserError(ValueError):
    """A mistake the user can fix; its message is one line that names the field or the path."""


class UsageError(UserError):
    """A command-line value out of range (e.g. ``--nodes 0``)."""


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped (``\\n``, ``\\x1b``,
    ``\\u202e``), so a name taken from someone else's file can never start a new line, move the
    cursor or reorder what aiperf prints."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
        for c in text
    )


def short_repr(value: object, width: int = 80) -> str:
    """``repr(value)`` cut to ``width`` characters, for a message about someone else's value."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
