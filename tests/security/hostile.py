"""Generated hostile YAML through `xzgov validate`, run by test_hostile_property.py in a child
process whose address space is capped (RLIMIT_AS): an alias bomb that escapes the bounds kills the
child with MemoryError instead of the machine. Run directly: ``python -m tests.security.hostile N``."""

from __future__ import annotations

import resource
import shutil
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MEMORY_LIMIT = 1 << 30  # 1 GB of address space for the whole child

#: A marker placed only under ``spec.secrets``: it must never show in any output.
SECRET = "Hx7-plaintext-secret-Qz"

TAGS = ["!!python/object/apply:os.system", "!!python/name:os.system", "!!set", "!!binary", "!!omap",
        "!!timestamp", "!custom", "!", "!!str", "!!int", "!!map", "!!seq", "!<tag:example.com,2000:x>"]
CONTROL = ["\x00", "\x01", "\x07", "\x0b", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff", "\ud7ff", "\n", "\t"]


def bomb(levels: int, fanout: int) -> str:
    lines = ["b0: &b0 [x, x, x]"]
    for level in range(1, levels):
        lines.append(f"b{level}: &b{level} [" + ", ".join([f"*b{level - 1}"] * fanout) + "]")
    return "\n".join(lines) + "\n"


@st.composite
def hostile(draw: st.DrawFn, base: str) -> str:
    """``base`` (a valid manifest) with 1-4 hostile pieces spliced in at random lines."""
    lines = base.splitlines(keepends=True)
    pieces = draw(st.lists(st.sampled_from(["bomb", "tag", "control", "number", "deep", "duplicate", "merge",
                                            "secret", "recursive"]), min_size=1, max_size=4))
    spec = lines.index("spec:\n") + 1
    for piece in pieces:
        # Mostly where the indentation fits (the end of the document, or just under spec:), so the
        # pieces reach the inspection instead of stopping at a syntax error; sometimes anywhere.
        where = draw(st.sampled_from(["end", "spec", "spec", "anywhere"]))
        at = {"end": len(lines), "spec": spec}.get(where) or draw(st.integers(1, len(lines)))
        indent = "  " if where == "spec" else "" if where == "end" else draw(st.sampled_from(["", "  "]))
        if piece == "bomb":
            text = bomb(draw(st.integers(2, 10)), draw(st.integers(2, 12)))
            text = "".join(indent + line + "\n" for line in text.splitlines())
        elif piece == "tag":
            value = draw(st.sampled_from(["[a, b]", "{k: v}", "x", "12", "''", "2026-02-30"]))
            text = f"{indent}{draw(st.sampled_from(['endpoints', 'tier', 'x', 'level']))}: " \
                   f"{draw(st.sampled_from(TAGS))} {value}\n"
        elif piece == "control":
            char = draw(st.sampled_from(CONTROL))
            quoted = draw(st.booleans())
            text = f'{indent}title: "a{char!r}"\n'.replace("'", "") if quoted else f"{indent}title: a{char}b\n"
        elif piece == "number":
            digits = draw(st.integers(20, 6000))
            text = f"{indent}rpo_minutes: {draw(st.sampled_from(['', '-', '0x', '1.']))}{'9' * digits}\n"
        elif piece == "deep":
            depth = draw(st.integers(50, 1100))
            opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
            text = f"{indent}x: {opener * depth}1{closer * depth}\n"
        elif piece == "duplicate":
            text = f"{indent}{draw(st.sampled_from(['tier', 'spec', 'kind', 'x']))}: 1\n" * 2
        elif piece == "merge":
            text = (f"{indent}m0: &m0 {{a: 1}}\n{indent}m1:\n{indent}  <<: *m0\n"
                    f"{indent}  <<: {draw(st.sampled_from(['*m0', '1', '[*m0, 2]']))}\n")
        elif piece == "recursive":
            text = f"{indent}r: &r [*r]\n"
        else:
            value = draw(st.sampled_from([f"'{SECRET}'", f"['{SECRET}']", f"{{x: '{SECRET}'}}",
                                          f"'$XZGOV-SM4VAULT;{SECRET}'", f"'{SECRET}\\n'"]))
            text = f"  secrets:\n    db_password: {value}\n"
            at = spec
        lines.insert(at, text)
        spec += at <= spec
    return "".join(lines)


def main(examples: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    from tests.register.conftest import FIXTURE
    from tests.security.helpers import MANIFEST, VALID_TEXT, validate

    root = Path(tempfile.mkdtemp(prefix="xzgov-hostile-")) / "region"
    shutil.copytree(FIXTURE, root)
    try:
        @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(hostile(VALID_TEXT))
        def check(text: str) -> None:
            (root / MANIFEST).write_text(text, encoding="utf-8")
            code, report, output = validate(root)
            assert code in (0, 1, 2), (code, output[-2000:])
            assert "Traceback" not in output
            assert SECRET not in output, output[-2000:]
            assert report.get("valid") == (code == 0), output[-2000:]
            for error in report.get("errors", []):
                assert error["file"] and error["message"], error
                assert error["line"] >= 1 and error["column"] >= 1, error

        check()
    finally:
        shutil.rmtree(root.parent)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 150)
