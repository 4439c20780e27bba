"""roles/crypto_service: argument specs cover the defaults; the unit is sandboxed; the configuration it
writes is one the service loads (rendered offline with Jinja2; converging a host is for the hosts tests)."""

from __future__ import annotations

from pathlib import Path

import jinja2
import yaml

from xzgov.cryptosvc.config import load_config, parse_systems

ROLE = Path(__file__).resolve().parents[2] / "roles" / "crypto_service"


def _render(name: str, **variables: object) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), undefined=jinja2.StrictUndefined)
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    return env.get_template(name).render(ansible_managed="managed", **{**defaults, **variables})


def test_argument_specs_cover_every_default() -> None:
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert set(defaults) <= set(specs)
    assert specs["crypto_service_systems"]["options"]["hmac_key"]["no_log"] is True


def test_unit_is_sandboxed() -> None:
    unit = _render("xzgov-cryptosvc.service.j2")
    for directive in ("User=xzgov-cryptosvc", "NoNewPrivileges=yes", "ProtectSystem=strict",
                      "ReadWritePaths=/var/lib/xzgov-cryptosvc", "PrivateTmp=yes", "ProtectHome=yes",
                      "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service", "UMask=0077",
                      "--ssl-certfile /etc/xzgov-cryptosvc/tls.crt"):
        assert directive in unit, directive


def test_rendered_configuration_loads(tmp_path: Path) -> None:
    systems = [{"name": "dept-a", "hmac_key": "ab" * 32}, {"name": "kms-admin", "role": "admin", "hmac_key": "cd" * 32}]
    parsed = parse_systems(_render("systems.yml.j2", crypto_service_systems=systems).encode(), "systems.yml")
    assert {n: s.role for n, s in parsed.items()} == {"dept-a": "tenant", "kms-admin": "admin"}
    from xzgov.cryptosvc.setup import write_service_files

    write_service_files(tmp_path, tmp_path / "state", {"x": "tenant"})
    config = _render("config.yml.j2", crypto_service_config_dir=str(tmp_path),
                     crypto_service_state_dir=str(tmp_path / "state"))
    (tmp_path / "rendered.yml").write_text(config)
    loaded = load_config(tmp_path / "rendered.yml")
    assert loaded.checkpoint_every == 100 and loaded.state_dir == tmp_path / "state"
