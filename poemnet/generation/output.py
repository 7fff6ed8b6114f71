"""Printing Chinese text from a command, whatever stdout is.

- An encoding that cannot hold Chinese (PYTHONIOENCODING=ascii, a C locale without UTF-8 mode):
  the poems and messages are written in UTF-8 anyway, the only encoding that holds them all.
- A reader that leaves early (`| head -1`): the rest goes nowhere, silently, and the command exits
  0, as the reader had what it wanted.
"""

import os
import sys


def utf8_streams():
    """stdout and stderr in UTF-8 where their encoding cannot hold Chinese (poems, error messages)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            "月".encode(stream.encoding or "ascii")
        except (LookupError, UnicodeEncodeError):
            if hasattr(stream, "reconfigure"):  # a real text stream, not a test's capture
                stream.reconfigure(encoding="utf-8")


def emit(text):
    """Print `text` (a newline added) and flush; BrokenPipeError is the reader leaving, not an error."""
    utf8_streams()
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Later flushes (at exit) would fail again: stdout now goes to /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def note(text):
    """One line on stderr, for what the user should know but the output should not carry."""
    print(text, file=sys.stderr)
