"""The ``mlp`` console script's entry point: Ctrl-C from the very first moment exits 130 quietly.

The console script imports its entry point's package before it runs anything, and
``mlp/__init__`` imports NumPy (half a second, longer on a loaded machine): a Ctrl-C then
would print a ``KeyboardInterrupt`` traceback. This module sits outside the ``mlp``
package, so the console script reaches ``main`` with nothing but this file imported;
``main`` puts a quiet handler in place (one line, exit 130) while ``mlp`` is imported,
then hands Ctrl-C back to Python (a ``KeyboardInterrupt``, which the commands turn into a
checkpoint or a one-line "interrupted", exit 130).

(``python -m mlp`` imports ``mlp`` before its ``__main__`` runs, so there the import itself
is not covered; the installed ``mlp`` command is.)
"""

import os
import signal
import sys

EXIT_INTERRUPTED = 130


def _interrupted(signum, frame):
    try:
        os.write(2, b"mlp: interrupted\n")
    finally:
        os._exit(EXIT_INTERRUPTED)      # nothing to clean up yet: the CLI has not started


def main() -> int:
    """Run the ``mlp`` command (``mlp.cli.main``) with Ctrl-C covered from the start."""
    signal.signal(signal.SIGINT, _interrupted)
    from mlp.cli import main as cli_main  # NumPy and all of mlp: seconds on a loaded machine

    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return cli_main()
    except KeyboardInterrupt:                # e.g. while the arguments are parsed
        os.write(2, b"mlp: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
