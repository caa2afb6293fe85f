"""The ``mlp`` command line: train, predict, evaluate, info, export, convert, datasets, xor, demo,
playground.

This package owns argument parsing, what the commands print, and turning every
error into one line on stderr (``mlp: error: …``) with a non-zero exit code —
never a traceback (set ``MLP_DEBUG=1`` to see one). Each command is one module
here with ``add_parser(sub)`` and ``run(args)``; what they share is in
``_common``. The work itself is done by the library: ``mlp.data`` reads the
data, ``Network.fit`` trains, ``mlp.io`` writes and reads model files
(atomically: a failed save leaves an earlier file intact).

Exit codes: 0 success, 1 an error in the data, a file or an argument value,
2 a malformed command line, 130 interrupted (Ctrl-C; ``mlp train`` then saves
a checkpoint and prints the command that resumes it). The installed ``mlp`` command
enters through ``_mlp_entry.main`` (a module outside this package), so that a Ctrl-C
while NumPy and mlp are still being imported also exits 130 with one line.

Optional libraries are imported only by the library functions that need them
(scikit-learn for the ``digits`` data set, tqdm for the progress bar, …).
"""

from __future__ import annotations

import os
import sys
import warnings

from .._version import __version__
from . import convert, datasets, demo, evaluate, export, info, playground, predict, train, xor
from ._common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CLIError,
    Parser,
    describe_error,
    note,
    one_line,
)

__all__ = ["COMMANDS", "EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_USAGE", "CLIError", "build_parser", "main"]

COMMANDS = (train, predict, evaluate, info, export, convert, datasets, xor, demo, playground)
"""The command modules, in the order ``mlp --help`` lists them (each: ``add_parser(sub)``, ``run(args)``)."""


def build_parser() -> Parser:
    """The ``mlp`` argument parser: each module of ``COMMANDS`` adds its subcommand."""
    parser = Parser(prog="mlp", description="Multi-layer networks in NumPy: train, predict, inspect.",
                    epilog="DATA is a built-in data set (see `mlp datasets`), a .csv file with a header "
                           "row, or an .npz file with arrays X and y. Run `mlp COMMAND --help` for more.")
    parser.add_argument("--version", action="version", version=f"mlp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


_KNOWN_ERRORS = (CLIError, ValueError, TypeError, OSError, ImportError, ArithmeticError, KeyError)


def main(argv=None) -> int:
    """Run the ``mlp`` command; return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Library warnings ("loss still falling: raise epochs") as one plain line each.
    previous_format = warnings.formatwarning
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        args.argv = argv
        warnings.formatwarning = lambda message, *args, **kwargs: f"mlp: warning: {one_line(message)}\n"
        with warnings.catch_warnings():
            if getattr(args, "quiet", False):
                warnings.simplefilter("ignore")
            return args.func(args) or 0
    except KeyboardInterrupt:
        note("mlp: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `mlp predict … | head`: the reader left; not an error worth a message.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
    except Exception as exc:   # one line, never a traceback
        if os.environ.get("MLP_DEBUG"):
            raise
        text = one_line(describe_error(exc))
        if not isinstance(exc, _KNOWN_ERRORS) and type(exc).__name__ != "TrainingDiverged":
            text = f"internal error ({type(exc).__name__}): {text} (MLP_DEBUG=1 shows the traceback)"
        note(f"mlp: error: {text}")
        return EXIT_ERROR
    finally:
        warnings.formatwarning = previous_format


if __name__ == "__main__":
    sys.exit(main())
