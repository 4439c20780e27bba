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


def test_serving_limits_reach_the_unit_and_the_configuration(tmp_path: Path) -> None:
    """LimitNOFILE above limit_concurrency; every serving limit goes to config.yml and loads."""
    unit = _render("xzgov-cryptosvc.service.j2")
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert f"LimitNOFILE={defaults['crypto_service_limit_nofile']}\n" in unit
    assert defaults["crypto_service_limit_nofile"] >= 2 * defaults["crypto_service_limit_concurrency"] + 64
    from xzgov.cryptosvc.setup import write_service_files

    write_service_files(tmp_path, tmp_path / "state", {"x": "tenant"})
    config = _render("config.yml.j2", crypto_service_config_dir=str(tmp_path),
                     crypto_service_state_dir=str(tmp_path / "state"), crypto_service_limit_concurrency=77,
                     crypto_service_body_timeout_seconds=7, crypto_service_header_timeout_seconds=6,
                     crypto_service_timeout_keep_alive_seconds=4, crypto_service_nonce_cache_per_system=1234,
                     crypto_service_audit_auth_failures_per_minute=3)
    (tmp_path / "rendered.yml").write_text(config)
    loaded = load_config(tmp_path / "rendered.yml")
    assert (loaded.limit_concurrency, loaded.body_timeout_seconds, loaded.header_timeout_seconds,
            loaded.timeout_keep_alive_seconds, loaded.nonce_cache_per_system,
            loaded.audit_auth_failures_per_minute) == (77, 7, 6, 4, 1234, 3)
