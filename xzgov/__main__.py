"""``python -m xzgov``: the same entry point as the ``xzgov`` command."""

from xzgov.cli.main import program

if __name__ == "__main__":
    program()
