"""python -m poemnet: the `poemnet` command."""

from poemnet.cli import entry

if __name__ == "__main__":
    entry()
