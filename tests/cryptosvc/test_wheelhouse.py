"""The offline wheelhouse carries everything the service imports, and nothing of the controller-only tooling."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata

from packaging.requirements import Requirement

from xzgov.cryptosvc.wheelhouse import SERVICE_REQUIREMENTS, pinned_requirements

CONTROLLER_ONLY = {"pulumi", "pulumi-kubernetes", "pulumi-policy", "ansible-core", "pytest-testinfra", "rich", "typer",
                   "kubernetes-validate", "jsonschema"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names: tuple[str, ...]) -> set[str]:
    """Distributions pip installs for `names` (their unconditional requirements, transitively)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def test_the_service_imports_only_what_the_wheelhouse_installs() -> None:
    listing = "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))"

    def modules(imports: str) -> set[str]:
        code = f"import sys{imports}; {listing}"
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return set(run.stdout.split())

    # What the service adds to what the interpreter loads at start (site hooks, .pth files).
    imported = modules(", xzgov.cryptosvc.__main__, xzgov.cryptosvc.app, uvicorn") - modules("")
    assert "fastapi" in imported and "uvicorn" in imported
    owners = metadata.packages_distributions()
    installed = _closure(SERVICE_REQUIREMENTS)
    # A top-level module is covered when one of the distributions providing it is installed (namespace packages
    # such as `opentelemetry` are shared by many distributions).
    missing = {module for module in imported if module in owners and module != "xzgov"
               and not {_norm(dist) for dist in owners[module]} & installed}
    assert missing == set()
    assert not installed & {_norm(n) for n in CONTROLLER_ONLY}


def test_requirements_are_pinned_to_the_controller_versions() -> None:
    for line in pinned_requirements():
        name, _, version = line.partition("==")
        assert version == metadata.version(name)
