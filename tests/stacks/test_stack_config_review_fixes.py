"""Review fixes of the stacks: Velero names within a label value, the stack configuration read whole under
`pulumi up` and reported with its diagnostics, the Velero settings checked, and config errors that fit."""

from __future__ import annotations

import copy
import json
import runpy
import shutil
import typing
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from stacks.failover import declare, failback
from stacks.mocks import MOCK_CLUSTER_UID, Recording, evaluate
from stacks.render import labels as lb
from stacks.render import render_site
from stacks.render.dr import TIER_ANNOTATION as TIER
from stacks.settings import Settings, settings_from_config
from stacks.validate import validate_objects
from tests.cli import CliResult
from tests.stacks import builders
from xzgov.core import model as m
from xzgov.core.errors import UsageError

REPO = Path(__file__).resolve().parents[2]

# 1 — Velero Schedule names: Velero copies them into the velero.io/schedule-name label of every Backup ---------

#: system names may be DNS labels of 63 characters; the review's 61-character one and a 63-character one
LONG_NAMES = ["county-social-assistance-and-minimum-livelihood-guarantee-sys",
              "county-social-assistance-and-minimum-livelihood-guarantee-sys01"]


@pytest.mark.parametrize("name", LONG_NAMES)
def test_schedules_of_a_long_system_name_fit_a_label_value(name: str) -> None:
    assert len(name) in (61, 63)
    register = builders.register(builders.system(name, dr_tier=4, rpo=30), builders.system("dr-native", site="dr"))
    home = render_site(register, Settings(site="lhasa")).disaster_recovery
    lost = declare(register, Settings(site="dr"), "lhasa")
    back = failback(register, Settings(site="lhasa"), "dr")
    schedules = {site: [o for o in objects if o["kind"] == "Schedule" and o["metadata"]["labels"][lb.SYSTEM] == name]
                 for site, objects in (("lhasa", home), ("dr", lost.render.disaster_recovery))}
    for objects in schedules.values():
        assert objects
        for schedule in objects:
            assert len(schedule["metadata"]["name"]) <= 63, schedule["metadata"]["name"]
    assert validate_objects([*home, *lost.render.disaster_recovery, *lost.restores, *back.restores], "1.30") == []

    # the restores read the schedules that exist: the failover the home site's, the failback the DR site's
    home_frequent, dr_frequent = (next(o for o in schedules[site] if o["metadata"]["labels"][TIER] == "frequent")
                                  for site in ("lhasa", "dr"))
    (failover_restore,) = lost.restores
    (failback_restore,) = back.restores
    assert failover_restore["spec"]["scheduleName"] == home_frequent["metadata"]["name"]
    assert failback_restore["spec"]["scheduleName"] == dr_frequent["metadata"]["name"]
    assert home_frequent["metadata"]["name"] != dr_frequent["metadata"]["name"]
    # the fail-back's final backup is taken from that same schedule
    assert f"for s in {dr_frequent['metadata']['name']}; do" in "\n".join(back.procedure)
    # and every step and the one-line command name it as it is, never as <system>-backup-dr (no such schedule)
    assert "<system>-backup" not in "\n".join(back.procedure) + back.config_command
    assert f"for each of {dr_frequent['metadata']['name']}" in back.config_command
    assert f"for each of {dr_frequent['metadata']['name']}:" in back.procedure[2]
    for restore in (failover_restore, failback_restore):
        assert len(restore["metadata"]["name"]) <= 63


def test_validation_refuses_a_schedule_name_longer_than_a_label_value(standard: m.Register) -> None:
    objects = render_site(standard, Settings(site="lhasa")).disaster_recovery
    schedule = copy.deepcopy(next(o for o in objects if o["kind"] == "Schedule"))
    schedule["metadata"]["name"] = "s" * 64
    restore = copy.deepcopy(declare(standard, Settings(site="dr"), "lhasa").restores[0])
    restore["spec"]["scheduleName"] = "s" * 64
    said = [str(p) for p in validate_objects([schedule, restore], "1.30")]
    assert any(s.startswith("Schedule velero/" + "s" * 64) and "velero.io/schedule-name" in s for s in said), said
    assert any(s.startswith("Restore ") and "spec.scheduleName" in s for s in said), said
    schedule["metadata"]["name"] = "s" * 63
    assert validate_objects([schedule], "1.30") == []


# 2/3 — `pulumi up` reads every xzgov: key and reports a configuration error with its diagnostics ---------------

MAIN = REPO / "stacks" / "__main__.py"


def _run_main(config: dict[str, str]) -> Recording:
    def program() -> dict[str, Any]:
        pulumi.runtime.set_all_config(config)
        return runpy.run_path(str(MAIN))

    return evaluate(program, stack="dr")


def _pinned(**extra: str) -> dict[str, str]:
    return {"xzgov:site": "dr", "xzgov:registerRoot": str(REPO), "xzgov:kubeContext": "xzgov-dr",
            "xzgov:clusterUid": MOCK_CLUSTER_UID, **extra}


def test_a_mistyped_key_is_refused_under_pulumi_up() -> None:
    """Only the documented keys were read: `xzgov:disasterDecalred` never reached the reader and `pulumi up`
    declared nothing, while `xzgov plan --stack` refused it."""
    with pytest.raises(pulumi.RunError) as refused:
        _run_main(_pinned(**{"xzgov:disasterDecalred": '["lhasa"]'}))
    text = str(refused.value)
    assert "Pulumi.dr.yaml: error [xzgov:disasterDecalred]: not a configuration key" in text, text
    assert "did you mean xzgov:disasterDeclared?" in text, text
    assert "Traceback" not in text


def test_a_key_outside_the_namespace_is_refused_under_pulumi_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """`disasterDeclared: [lhasa]` in a stack file reaches the program as xzgov-cloud:disasterDeclared: refused."""
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({**_pinned(), "xzgov-cloud:disasterDeclared": '["lhasa"]'}))
    with pytest.raises(pulumi.RunError, match=r"\[xzgov-cloud:disasterDeclared\]: 'xzgov-cloud:disasterDeclared' is "
                       r"read by nothing"):
        _run_main({})


def test_pulumi_up_reads_the_keys_pulumi_hands_over_in_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi up`'s language host passes the stack's configuration as PULUMI_CONFIG (JSON): every xzgov: key in
    it is read, other namespaces' are not ours."""
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({**_pinned(), "kubernetes:context": "x",
                                                    "xzgov:drTenancyMinTeir": "4"}))
    with pytest.raises(pulumi.RunError, match=r"xzgov:drTenancyMinTeir\]: not a configuration key"):
        _run_main({})
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({**_pinned(), "kubernetes:context": "x",
                                                    "xzgov:drTenancyMinTier": "4"}))
    recording = _run_main({})
    assert recording.result["settings"].dr_tenancy_min_tier == 4


def test_a_configuration_error_under_pulumi_up_shows_every_diagnostic() -> None:
    """The UsageError's traceback printed only `invalid stack configuration in Pulumi.dr.yaml`: which key, which
    value and the fix were lost. A RunError (shown without a traceback) carries them."""
    with pytest.raises(pulumi.RunError) as refused:
        _run_main(_pinned(**{"xzgov:drTenancyMinTier": "9", "xzgov:backupMinutes": "soon"}))
    text = str(refused.value)
    assert text.startswith("invalid stack configuration in Pulumi.dr.yaml\n"), text
    assert "Pulumi.dr.yaml: error [xzgov:backupMinutes]: 'soon': " in text, text
    assert "hint: fix the value" in text, text
    with pytest.raises(pulumi.RunError) as refused:
        _run_main(_pinned(**{"xzgov:drTenancyMinTier": "9"}))
    text = str(refused.value)
    assert "[xzgov:drTenancyMinTier]: xzgov:drTenancyMinTier must be a GB/T 20988 tier, 0..6" in text, text
    assert "hint: write a whole number 0..6 instead of 9" in text, text


# 4 — the Velero settings are checked like every other setting --------------------------------------------------

def _stack_root(tmp_path: Path, config: str) -> Path:
    """The example register with one more stack file, Pulumi.night.yaml (``config`` below ``config:``)."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy2(REPO / "region.yaml", root / "region.yaml")
    shutil.copytree(REPO / "systems", root / "systems")
    (root / "Pulumi.night.yaml").write_text("config:\n" + config, encoding="utf-8")
    return root


VELERO_SETTINGS = [  # (key, field, a value Velero cannot use, what the hint says)
    ("veleroProvider", "velero_provider", '""', "Velero plugin"),
    ("veleroProvider", "velero_provider", "AWS S3", "Velero plugin"),
    ("veleroCredentialSecret", "velero_credential_secret", '"Velero OSS creds"', "DNS subdomain"),
    ("veleroCredentialSecret", "velero_credential_secret", '""', "DNS subdomain"),
    ("veleroCredentialKey", "velero_credential_key", '"cloud credentials"', "key of that Secret's data"),
    ("veleroCredentialKey", "velero_credential_key", '""', "key of that Secret's data"),
    ("objectStoreRegion", "object_store_region", '""', "region the object store's S3 API signs for"),
    ("objectStoreRegion", "object_store_region", '" "', "region the object store's S3 API signs for"),
    # the CRD's caCert is base64 (`format: byte`): the pasted PEM itself, or no base64 at all, planned clean and
    # was refused by the API server on every location
    ("objectStoreCaCert", "object_store_ca_cert", '"not base64 !!"', "base64 -w0 ca.pem"),
    ("objectStoreCaCert", "object_store_ca_cert", '"-----BEGIN CERTIFICATE----- MIIB -----END CERTIFICATE-----"',
     "base64 -w0 ca.pem"),
    ("objectStoreCaCert", "object_store_ca_cert", '"aGVsbG8="', "base64 -w0 ca.pem"),  # base64, no certificate
]


@pytest.mark.parametrize(("key", "name", "value", "hint"), VELERO_SETTINGS)
def test_velero_settings_velero_cannot_use_are_refused_at_their_line(
        cli: Callable[..., CliResult], tmp_path: Path, key: str, name: str, value: str, hint: str) -> None:
    """`veleroCredentialSecret: "Velero OSS creds"` planned fine; every backup location was then Unavailable."""
    root = _stack_root(tmp_path, f"  xzgov:site: lhasa\n  xzgov:{key}: {value}\n")
    result = cli("plan", "--project-dir", root, "--stack", "night", "--no-connectivity")
    assert result.code == 2, result.text
    assert "Pulumi.night.yaml:3:" in result.err and f"[xzgov:{key}]" in result.err, result.err
    assert "hint:" in result.err and hint in result.err, result.err
    assert "Traceback" not in result.text
    with pytest.raises(UsageError) as refused:
        Settings(site="lhasa", **{name: yaml.safe_load(value)})
    (diagnostic,) = refused.value.diagnostics
    assert diagnostic.path == f"xzgov:{key}" and hint in diagnostic.hint


def test_velero_settings_that_fit_are_kept() -> None:
    settings = Settings(site="lhasa", velero_provider="velero.io/aws", velero_credential_secret="oss.creds-1",
                        velero_credential_key="cloud_v2.ini", object_store_region="cn-xizang-1")
    assert (settings.velero_provider, settings.velero_credential_key) == ("velero.io/aws", "cloud_v2.ini")
    assert Settings(site="lhasa").velero_provider == "aws"  # the defaults pass
    import base64

    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert Settings(site="lhasa", object_store_ca_cert=base64.b64encode(pem).decode()).object_store_ca_cert


# 5 — configuration errors that fit the key and say where ---------------------------------------------------------

@pytest.mark.parametrize(("config", "expected"), [
    # (a) a near spelling, not only another case
    ("  xzgov:site: lhasa\n  xzgov:drTenancyMinTeir: 4\n",
     ["Pulumi.night.yaml:3:", "[xzgov:drTenancyMinTeir]", "did you mean xzgov:drTenancyMinTier?"]),
    ("  xzgov:site: lhasa\n  xzgov:disasterDecalred: [dr]\n",
     ["Pulumi.night.yaml:3:", "did you mean xzgov:disasterDeclared?"]),
    # (b) the example fits the field: ports are numbers, not sites
    ("  xzgov:site: lhasa\n  xzgov:internetIngressPorts: 443\n",
     ["Pulumi.night.yaml:3:", "[xzgov:internetIngressPorts]", "expected a YAML list, e.g. [443]"]),
    ("  xzgov:site: lhasa\n  xzgov:scannerKeyGroups: security-officers\n",
     ["Pulumi.night.yaml:3:", "expected a YAML list, e.g. [security-officers]"]),
    ("  xzgov:site: dr\n  xzgov:disasterDeclared: lhasa\n",
     ["Pulumi.night.yaml:3:", "expected a YAML list, e.g. [lhasa]"]),
    # (d) a review: a key without the xzgov: prefix is filed under the project (xzgov-cloud:) and read by nothing —
    # a disaster declared so was no declaration, without a word; under the project's namespace alike
    ("  xzgov:site: dr\n  disasterDeclared: [lhasa]\n",
     ["Pulumi.night.yaml:3:", "[disasterDeclared]", "(xzgov-cloud:disasterDeclared)", "write xzgov:disasterDeclared"]),
    ("  xzgov:site: dr\n  xzgov-cloud:disasterDeclared: [lhasa]\n",
     ["Pulumi.night.yaml:3:", "[xzgov-cloud:disasterDeclared]", "write xzgov:disasterDeclared"]),
    # the third reading: the namespace mistyped was dropped alike (another provider's, kubernetes:, is not ours)
    ("  xzgov:site: dr\n  kubernetes:context: night\n  xzgv:disasterDeclared: [lhasa]\n",
     ["Pulumi.night.yaml:4:", "[xzgv:disasterDeclared]", "'xzgv' is not xzgov", "write xzgov:disasterDeclared"]),
    # (c) a site the region does not know: at the xzgov:site line, with the sites it knows
    ("  xzgov:kubeContext: x\n  xzgov:site: linzhi\n",
     ["Pulumi.night.yaml:3:", "[xzgov:site]", "'linzhi' is not a site of region.yaml", "lhasa, dr"]),
])
def test_config_errors_fit_the_key_and_name_its_line(cli: Callable[..., CliResult], tmp_path: Path, config: str,
                                                      expected: list[str]) -> None:
    result = cli("plan", "--project-dir", _stack_root(tmp_path, config), "--stack", "night", "--no-connectivity")
    assert result.code == 2, result.text
    for text in expected:
        assert text in result.err, (text, result.err)
    assert "e.g. [lhasa]" not in result.err or "disasterDeclared" in result.err, result.err
    assert "Traceback" not in result.text


def test_no_near_spelling_is_guessed_for_a_key_like_none() -> None:
    with pytest.raises(UsageError) as refused:
        settings_from_config({"site": "lhasa", "colour": "blue"}, "Pulumi.x.yaml")
    assert refused.value.diagnostics[0].hint == "see docs/stacks.md for every key"


def test_every_list_key_has_an_example_of_its_own() -> None:
    from stacks.settings import LIST_EXAMPLES

    lists = {f.name for f in fields(Settings) if typing.get_origin(typing.get_type_hints(Settings)[f.name]) is tuple}
    assert lists == set(LIST_EXAMPLES)


def test_an_unknown_site_under_pulumi_up_is_located_at_the_stack_files_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """`xzgov plan --stack` located an unknown xzgov:site at the stack file's line; `pulumi up` blamed region.yaml
    spec.sites (the register was right, the setting wrong)."""
    monkeypatch.chdir(REPO)
    with pytest.raises(pulumi.RunError) as refused:
        _run_main(_pinned(**{"xzgov:site": "mars"}))
    text = str(refused.value)
    assert "Pulumi.dr.yaml:4:" in text and "error [xzgov:site]: xzgov:site 'mars' is not a site" in text, text
    assert "hint: write one of its spec.sites[].id: lhasa, dr" in text and "region.yaml" in text, text


def test_a_wrong_cluster_ends_pulumi_up_as_a_configuration_error() -> None:
    """check_cluster raised a RuntimeError inside an apply: `pulumi up` showed a traceback, every other
    configuration error a RunError with its message."""
    from stacks.program import WrongCluster, check_cluster

    assert issubclass(WrongCluster, pulumi.RunError)
    with pytest.raises(pulumi.RunError, match="never the uid"):
        check_cluster("dr", MOCK_CLUSTER_UID, "another-uid")


@pytest.mark.parametrize(("entry", "shown"), [
    ("xzgov:internetIngressPorts: [443, 0443]", "config.xzgov:internetIngressPorts[1]"),
    ("xzgov:zoneQuota: {pods: 010}", "config.xzgov:zoneQuota.pods"),
    ("xzgov:internetIngressPorts: [0x1BB]", "config.xzgov:internetIngressPorts[0]"),
    ("xzgov:internetIngressPorts: [4_43]", "config.xzgov:internetIngressPorts[0]"),
])
def test_a_number_pulumi_reads_otherwise_in_a_list_is_refused_offline(tmp_path: Path, entry: str, shown: str) -> None:
    """Pulumi passes a top-level value as its text but decodes lists and mappings as YAML 1.1 (yaml.v3): `[443,
    0443]` reached `pulumi up` as [443, 291] while `xzgov plan --stack` read 443 and planned clean. A quoted
    "0443" is text to both, and accepted."""
    from stacks.settings import settings_from_stack_file
    from xzgov.core.errors import UsageError

    stack = tmp_path / "Pulumi.x.yaml"
    stack.write_text(f"config:\n  xzgov:site: lhasa\n  {entry}\n", encoding="utf-8")
    with pytest.raises(UsageError) as refused:
        settings_from_stack_file(stack)
    (problem,) = refused.value.diagnostics
    assert (problem.file, problem.line, problem.path) == ("Pulumi.x.yaml", 3, shown)
    assert "read by Pulumi as another number" in problem.message and "decimal" in problem.hint
    stack.write_text('config:\n  xzgov:site: lhasa\n  xzgov:internetIngressPorts: [443, "8443"]\n', encoding="utf-8")
    assert settings_from_stack_file(stack).internet_ingress_ports == (443, 8443)


@pytest.mark.parametrize(("pins", "warned"), [("", "xzgov:kubeContext and xzgov:clusterUid not set"),
                                              ("  xzgov:kubeContext: night\n", "xzgov:clusterUid not set"),
                                              (f"  xzgov:kubeContext: night\n  xzgov:clusterUid: {MOCK_CLUSTER_UID}\n",
                                               None)])
def test_the_plan_of_a_stack_says_when_pulumi_up_would_stop_at_the_cluster_pin(
        cli: Callable[..., CliResult], tmp_path: Path, pins: str, warned: str | None) -> None:
    """A review: `xzgov plan --stack lhasa` exited 0 as "what pulumi up would create" while `pulumi up` stops at
    the cluster pin of every stack file in the repository (no xzgov:clusterUid)."""
    result = cli("plan", "--project-dir", _stack_root(tmp_path, "  xzgov:site: lhasa\n" + pins), "--stack", "night",
                 "--no-connectivity", "--out", tmp_path / "plan")
    assert result.code == 0, result.text
    if warned is None:
        assert "pulumi up --stack night" not in result.err, result.err
    else:
        assert f"Pulumi.night.yaml: {warned}: `pulumi up --stack night` stops" in result.err, result.err
