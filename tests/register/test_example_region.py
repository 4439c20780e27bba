"""The bundled example region: valid, realistic in spread, and its committed inventories current."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult
from tests.register.conftest import REPO
from tests.register.test_inventory import ansible_inventory
from xzgov.core.register import check_register, load_register


def test_example_region_is_valid_and_spread_across_tiers_zones_and_levels() -> None:
    register = load_register(REPO)
    assert len(register) >= 30
    assert {s.tier for s in register} == {"自治区", "地市", "县区", "乡镇"}
    assert {s.zone for s in register} == set(register.region.zones)
    assert {s.site for s in register} == set(register.region.sites)
    levels = Counter(s.level for s in register)
    assert levels[2] + levels[3] > 0.8 * len(register) and 1 <= levels[4] <= 3
    providers = {service.provider for service in register.region.shared_services.values()}
    assert providers <= set(register.systems)
    known_gaps = [s.name for s in register if "# known gap:" in (REPO / s.source).read_text(encoding="utf-8")]
    assert 0.15 * len(register) <= len(known_gaps) <= 0.5 * len(register)


def test_committed_inventories_are_current(cli: Callable[..., CliResult]) -> None:
    code, _, err = cli("inventory", "--check", "--root", str(REPO))
    assert code == 0, err


def test_committed_inventory_and_plugin_agree_for_every_site() -> None:
    for site in ("lhasa", "dr"):
        assert ansible_inventory(REPO / "inventories" / f"{site}.xzgov.yml") == ansible_inventory(
            REPO / "inventories" / site / "hosts.yml"
        )


def test_every_manifest_has_the_schema_modeline() -> None:
    for path in sorted((REPO / "systems").rglob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../xzgov/core/schemas/system.schema.json", path
    assert Path(REPO / "region.yaml").read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=xzgov/core/schemas/region.schema.json"
    )


@pytest.mark.parametrize(("old", "new", "host", "said"), [
    ("data: files, role: log-centre, ports:", "data: files, ports:", "log-centre01",
     "host 'log-centre01' (10.69.1.10) is listed in region.yaml spec.log_servers"),
    ("data: none, role: time-source, ports:", "data: none, ports:", "ntp01",  # the first: ntp01's line
     "host 'ntp01' (10.69.0.123) is listed in region.yaml spec.time_sources"),
])
def test_a_host_region_yaml_sends_logs_or_time_to_declares_that_role(
        tmp_path: Path, old: str, new: str, host: str, said: str) -> None:
    # without the role the inventory dropped the log centre's group and its firewall's 6514 rule, while every
    # host still forwarded to 10.69.1.10: central audit stopped and validation said nothing
    shutil.copy(REPO / "region.yaml", tmp_path / "region.yaml")
    shutil.copytree(REPO / "systems", tmp_path / "systems")
    manifest = tmp_path / "systems/dsjj/security-ops.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert old in text
    manifest.write_text(text.replace(old, new, 1), encoding="utf-8")
    found = [d for d in check_register(tmp_path).diagnostics if said in d.message]
    assert len(found) == 1 and found[0].file == "systems/dsjj/security-ops.yaml"
    assert found[0].line == next(n for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1)
                                 if f"hostname: {host}," in line)
