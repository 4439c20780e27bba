"""A signal during the Pulumi evaluation (``stacks.mocks.evaluate``) unwinds the command: it was swallowed (Pulumi's
``except BaseException`` around a stack trace; the scan finished, exit 1) or kept as an asyncio task's result while
the loop waited for ever (the process hung until SIGKILL). It is now deferred: the loop stops, its tasks end, the
handlers are put back and the command line's handler raises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import os, signal, sys, threading
sys.path.insert(0, sys.argv[1])
import pulumi
from stacks.mocks import evaluate

class Terminated(Exception):
    pass

def handler(signum, frame):
    raise Terminated

signal.signal(signal.SIGTERM, handler)

def program():
    threading.Timer(float(sys.argv[2]), lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
    for index in range(3000):
        pulumi.CustomResource("test:index:Thing", f"r{index}", {"a": index})

try:
    evaluate(program)
except Terminated:
    print("terminated", signal.getsignal(signal.SIGTERM) is handler)
    sys.exit(143)
print("finished")
"""


@pytest.mark.parametrize("delay", [0.3, 1.5])
def test_a_signal_during_the_evaluation_unwinds_it(tmp_path: Path, delay: float) -> None:
    script = tmp_path / "evaluate.py"
    script.write_text(SCRIPT, encoding="utf-8")
    try:
        done = subprocess.run([sys.executable, str(script), str(ROOT), str(delay)], capture_output=True, text=True,
                              timeout=90, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("the evaluation hung after the signal")
    assert (done.returncode, done.stdout.strip()) == (143, "terminated True"), done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "destroyed but it is pending" not in done.stderr
