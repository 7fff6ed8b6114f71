"""One exception for bad input and one wrapper that turns it into a one-line error and exit code 2."""
import sys


class UserError(Exception):
    """Bad input from the user: the message names the problem and the fix."""


def run_cli(main, argv=None):
    """Run `main(argv)`; a UserError prints `error: ...` on stderr and exits 2, without a traceback."""
    try:
        code = main(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


class ArgumentParser(__import__("argparse").ArgumentParser):
    """argparse whose errors are UserErrors: one line and exit 2, like every other bad input."""

    def error(self, message):
        raise UserError(f"{message} (see --help)")
