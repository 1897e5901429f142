"""The error a subcommand raises for a user mistake (its own module, so that the subcommand
modules and `rlvr.cli.main`, which registers them, do not import each other)."""

from __future__ import annotations


class CommandError(Exception):
    """A user error: printed as `rlvr <cmd>: message` with exit code 2, no traceback."""
