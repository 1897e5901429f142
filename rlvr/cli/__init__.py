"""The `rlvr` command: `main` parses the arguments and runs a subcommand (`main`), the
torch-free verifier and sandbox subcommands live in `verify`. The top layer: may import all of
rlvr, each subcommand only when it runs.
"""

from rlvr.cli.errors import CommandError
from rlvr.cli.main import build_parser, exit_on_user_error, main, user_errors

__all__ = ["CommandError", "build_parser", "exit_on_user_error", "main", "user_errors"]
