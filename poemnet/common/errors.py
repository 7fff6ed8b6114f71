"""One exception for bad input and one wrapper that turns it into a one-line error and exit code 2."""

import os
import sys


class UserError(Exception):
    """Bad input from the user: the message names the problem and the fix."""


def run_cli(main, argv=None, fast_exit=False):
    """Run `main(argv)`; a UserError prints `error: ...` on stderr and exits 2, without a traceback.

    fast_exit: once stdout and stderr are flushed, leave with os._exit and skip the interpreter's
    teardown, for a command that has written all it writes (onnxruntime's teardown alone takes
    ~20 ms, a tenth of a one-poem run).
    """
    try:
        code = main(argv) or 0
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        code = 130
    if fast_exit:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


class ArgumentParser(__import__("argparse").ArgumentParser):
    """argparse whose errors are UserErrors: one line and exit 2, like every other bad input."""

    def error(self, message):
        raise UserError(f"{message} (see --help)")
