"""``python -m xzgov``: the same entry point as the ``xzgov`` command."""

from xzgov.cli.main import run

if __name__ == "__main__":
    run()
