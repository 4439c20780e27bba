"""``xzgov attest``: worksheets of the items no rule decides, and signed attestation sets.

Exit codes: 0 written / signed / verified; 2 usage or input error (unknown system, bad worksheet cell,
missing evidence, unreadable key, a set that does not verify, an existing --out without --force, a
symbolic link at --out); 3 the machine failed (disk full: nothing written, no partial file).

Every file is written by :func:`compliance.attest.signing.write_output`: atomically, never through a
symbolic link, never over an existing file except the set ``attest sign`` signs in place, or with --force.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from xzgov.cli.crypto_common import FormatOption, OutputFormat, load_private
from xzgov.cli.output import console, console_err, print_json, safe_text
from xzgov.core.clock import day_option
from xzgov.core.errors import Diagnostic, ExitCode, UsageError
from xzgov.core.fsutil import check_outside_register, held_files

attest_app = typer.Typer(help="Worksheets (核查表) of the items no rule decides, and SM2-signed attestation sets.",
                         no_args_is_help=True)

RootOption = Annotated[Path, typer.Option("--root", help="Register root (region.yaml, systems/, compliance/).",
                                          file_okay=False)]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace an existing --out file (never a symbolic "
                                           "link: that is refused).")]


@dataclass(frozen=True)
class _Known:
    """What a set may name: each system's department, each department's name, the catalogue's items."""

    systems: dict[str, str]
    departments: dict[str, str]
    platform_departments: tuple[str, ...]
    item: Callable[[str], bool]
    #: why a scan will not use a system's row for an item ("" when it will), the set judged at these levels (its
    #: metadata): what the scan only warns about
    not_used: Callable[[str, str, int | None, int | None], str]
    #: the catalogue's unit id and title start of an item (compliance.attest.loader.catalogue_text)
    described: Callable[[str], tuple[str, str] | None]
    #: whether the platform's record decides an item for its tenants (its other rows are not used)
    inherited: Callable[[str], bool]


def _references(root: Path) -> _Known:
    from compliance.catalogue import default_catalogue, load_catalogue
    from xzgov.core.register import load_register

    register = load_register(root)
    standards = root / "standards"
    catalogue = load_catalogue(standards) if standards.is_dir() else default_catalogue()

    def not_used(system_name: str, ref: str, level: int | None, crypto_level: int | None) -> str:
        from compliance.scan.context import row_not_used

        entry, system = catalogue.get(ref), register.systems.get(system_name)
        if entry is None or system is None:
            return ""  # a reference problem, reported as such
        why = row_not_used(entry, system, level, crypto_level)
        return f"{why}; the scan will not use the row" if why else ""

    from compliance.attest.loader import catalogue_text
    from compliance.catalogue import Item

    return _Known({n: s.department for n, s in register.systems.items()},
                  {d.id: d.name for d in register.region.departments.values()},
                  register.region.platform_departments, lambda ref: catalogue.get(ref) is not None, not_used,
                  lambda ref: catalogue_text(catalogue.get(ref)),
                  lambda ref: isinstance(entry := catalogue.get(ref), Item) and entry.platform_decides)


def _today(value: str | None) -> dt.date:
    if value is None:
        from compliance.attest.signing import clock_today

        return clock_today()
    return day_option(value, "--today")


def _judged_day(value: str | None) -> dt.date:
    """The day ``attest check`` judges the records on: --today, else $XZGOV_AS_OF as the scan reads it, else
    today (check said a set was in force that the scan of that day called expired)."""
    if value is not None:
        return _today(value)
    from compliance.scan.context import as_of_from_environment

    return as_of_from_environment() or _today(None)


def _signing_day(value: str | None) -> dt.date:
    """--today of a signature (default: today), refused when after today by the clock (checked before the
    key's passphrase is asked; :func:`compliance.attest.signing.prepare` checks the set's own date)."""
    from compliance.attest.signing import dated_ahead

    day = _today(value)
    now = dated_ahead(day)
    if now is not None:
        raise UsageError(f"--today {value}: after today ({now})", [Diagnostic(
            "<command line>", 0, 0, "--today", f"{day} is in the future", "sign with today's date", "usage")])
    return day


@attest_app.command("template")
def template(
    system: Annotated[str, typer.Argument(help="System name (metadata.name of its manifest).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Worksheet to write: .yaml or .xlsx.", dir_okay=False)],
    level: Annotated[int | None, typer.Option("--level", min=1, max=4, help="等保 level (default: the system's).")]
    = None,
    plan: Annotated[bool, typer.Option("--plan", help="Count the planned-resource rules as deciding too.")] = False,
    root: RootOption = Path("."),
    force: ForceOption = False,
) -> int:
    """Write the worksheet of SYSTEM: one row per item no rule decides (what to check, 访谈/核查/测试, evidence).

    Never over an existing file (a filled-in worksheet) unless --force; never through a symbolic link.

    Exit codes: 0 written, 2 usage or input error (unknown system, invalid register, an existing --out without
    --force), 3 the machine failed (nothing written).
    """
    from compliance.attest import worksheet
    from compliance.attest.signing import check_output

    if out.suffix.lower() not in (".yaml", ".yml", ".xlsx"):
        raise UsageError(f"--out {out}: write .yaml, .yml or .xlsx", [Diagnostic(
            "<command line>", 0, 0, "--out", "unknown worksheet format", "name the file *.yaml or *.xlsx", "usage")])
    # a worksheet goes to compliance/attestations to be signed there, never among the manifests or waivers
    check_outside_register(out, root, inputs=("systems", "region.yaml", "compliance/waivers"))
    check_output(out, replace=force)  # before the scan: a refused --out fails fast
    document = worksheet.template(root, system, level=level, plan=plan)
    worksheet.write(document, out, replace=force)
    rows = worksheet.rows_of(document)
    console.print(safe_text(f"{out}: {len(rows)} item(s) of {system} that no rule decides "
                            f"({sum(1 for r in rows if r['responsibility'] == '云平台')} on the platform's side)"))
    return int(ExitCode.OK)


@attest_app.command("import")
def import_xlsx(
    file: Annotated[Path, typer.Argument(help="A filled worksheet (.xlsx).", dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="YAML worksheet to write.", dir_okay=False)],
    force: ForceOption = False,
    root: RootOption = Path("."),
) -> int:
    """Turn a filled XLSX worksheet back into its YAML (the same text as the YAML template).

    Never over an existing file (e.g. a signed set) unless --force; never through a symbolic link.

    Exit codes: 0 written, 2 usage or input error (a bad or damaged cell, named by sheet and cell; an existing
    --out without --force), 3 the machine failed (nothing written).
    """
    from compliance.attest import worksheet
    from compliance.attest.signing import check_output

    if not file.is_file():
        there = os.path.lexists(file)  # a FIFO or device was told "no such file"
        raise UsageError(f"{file}: {'not a regular file' if there else 'no such file'}", [Diagnostic(
            str(file), 0, 0, "", "not a regular file (a folder, FIFO or device)" if there else "not found",
            "give the filled worksheet (.xlsx)" if there else "check the path", "io")])
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise UsageError(f"--out {out}: write .yaml", [Diagnostic("<command line>", 0, 0, "--out", "not YAML",
                                                                  "name the file *.yaml", "usage")])
    # as the template's: never among the manifests or waivers (the register and every scan would refuse it)
    check_outside_register(out, root, inputs=("systems", "region.yaml", "compliance/waivers"))
    check_output(out, replace=force)
    document = worksheet.read_xlsx(file)
    worksheet.write(document, out, replace=force)
    filled = sum(1 for row in worksheet.rows_of(document) if row.get("result"))
    console.print(safe_text(f"{out}: {len(worksheet.rows_of(document))} row(s), {filled} with a result"))
    return int(ExitCode.OK)


@attest_app.command("sign")
def sign(
    file: Annotated[Path, typer.Argument(help="A filled worksheet / attestation set (.yaml).", dir_okay=False)],
    key: Annotated[Path, typer.Option("--key", "-k", help="The attesting person's SM2 private key.", dir_okay=False)],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Signed set to write (default: FILE, signed in "
                                             "place).", dir_okay=False)] = None,
    valid_days: Annotated[int, typer.Option("--valid-days", min=1, max=1100,
                                            help="Expiry when the set gives none: date + N days.")] = 365,
    today: Annotated[str | None, typer.Option("--today", help="Date of the attestation (YYYY-MM-DD).")] = None,
    root: RootOption = Path("."),
    output: FormatOption = OutputFormat.text,
    force: ForceOption = False,
) -> int:
    """Sign a filled set with SM2: rows without a result are dropped, evidence SM3 digests recorded.

    Evidence paths are relative to the set's folder (where the signed set is written). The signer's
    key fingerprint must be pinned in region.yaml spec.attestation_signers for the set's department
    and scope, or the scan refuses the set. FILE is replaced by its signed version; an --out other
    than FILE is never an existing file unless --force; neither is ever a symbolic link.

    Exit codes: 0 signed, 1 invalid register at --root (`xzgov validate` names its errors), 2 usage or input error
    (a row without its reason or evidence, missing evidence, unreadable key, a date ahead, a set in another
    person's name), 3 the machine failed (nothing written).
    """
    from xzgov.crypto.files import same_file

    target = out or file
    replace = force or out is None or same_file(out, file)  # signing in place is the command's purpose
    field = "FILE" if out is None else "--out"
    # held from the read to the write: two signers of one set at once left one signature and both said "signed"
    with held_files([file, target], "another `xzgov attest sign`", "attest-busy"):
        return _sign_held(file, target, replace, field, root, key, today, valid_days, output)


def _sign_held(file: Path, target: Path, replace: bool, field: str, root: Path, key: Path, today: str | None,
               valid_days: int, output: OutputFormat) -> int:
    """``attest sign`` once the set (and its --out) are held."""
    from compliance.attest import signing
    from compliance.attest.loader import item_reference_problems, read_set, set_reference_problems
    from compliance.attest.pins import load_pins
    from xzgov.crypto import keys

    document, problems = read_set(file, str(file))
    if document is None:
        raise UsageError(f"{file}: not a valid attestation set; nothing signed", problems)
    # What the scan would refuse is refused before signing: the set's references, its dates.
    known = _references(root)
    problems = [*set_reference_problems(document, known.systems, known.departments,
                                                known.platform_departments),
                *(problem for index, row in enumerate(document.data.get("attestations") or [])
                  if row.get("result") is not None
                  for problem in item_reference_problems(document, index, row, known.item, known.described))]
    if problems:
        raise UsageError(f"{file}: {len(problems)} problem(s) against the register at {root} (--root); nothing "
                         "signed", problems)
    metadata = document.data.get("metadata", {}) if isinstance(document.data, dict) else {}
    system, level = metadata.get("system"), metadata.get("level")
    crypto_level = metadata.get("crypto_level", level)  # as the loader reads the set (SetInfo)
    rows = [row for row in document.data.get("attestations") or [] if row.get("result") is not None]
    if metadata.get("scope") == "system":
        unused = [said for row in rows if isinstance(system, str)
                  and (said := known.not_used(system, str(row.get("item")), level, crypto_level))]
    else:  # the platform's record: a row of an item its tenants decide reaches no system
        unused = [f"{row.get('item')}: the tenant's side decides this item, no system inherits the platform's "
                  "result; the scan will not use the row" for row in rows if not known.inherited(str(row.get("item")))]
    day = _signing_day(today)
    signing.check_output(target, replace=replace, field=field)  # before the key's passphrase is asked
    private = load_private(key)
    pin = load_pins(root).get(keys.fingerprint(private.public_key))
    person = document.data.get("attested_by")
    if pin is not None and isinstance(person, Mapping) and str(person.get("name")) != pin.name:
        # every scan refuses it (compliance.attest.loader): sign said "authorised" and signed it in place
        raise UsageError(f"{file}: attested_by names {person.get('name')}, but this key is {pin.name}'s; nothing "
                         "signed", [document.diagnostic(("attested_by", "name"), f"attested_by names "
                                                        f"{person.get('name')}, but the key is {pin.name}'s "
                                                        f"(region.yaml:{pin.line})", "each person signs with their "
                                                        "own key: write the signer's name, or sign with the named "
                                                        "person's key", code="signer")])
    from compliance.scan.context import as_of_from_environment

    judged = as_of_from_environment() or signing.clock_today()  # the day a scan judges the set on
    prepared, dropped = signing.prepare(document, target.parent, today=day, valid_days=valid_days, judged=judged)
    signed = signing.sign_document(prepared, private)
    valid, fingerprint, problem = signing.verify_signature(signed)
    if not valid:  # pragma: no cover - would be a defect
        raise UsageError(f"internal error: the set just signed does not verify: {problem}")
    # the signed set in place is the change: a signal from then on lets the command finish with its own code
    signing.write_output(target, signing.dump(signed).encode("utf-8"), replace=replace, field=field, commits=True)
    meta = signed["metadata"]
    authorised = pin is not None and pin.allows(meta["department"], meta["scope"])
    if output is OutputFormat.json:
        print_json({"file": str(target), "rows": len(signed["attestations"]), "dropped": dropped,
                    "signer_fingerprint": fingerprint, "authorised": authorised, "expires": signed["expires"],
                    "not_used": unused})
    else:
        console.print(safe_text(f"signed {len(signed['attestations'])} row(s) into {target} "
                                f"({dropped} row(s) without a result left out); expires {signed['expires']}"))
        console.print(f"signer fingerprint (SM3): {keys.fingerprint(private.public_key)}", markup=False)
    for said in unused:  # signed as written (the row is the assessor's record), but said before anyone relies on it
        console_err.print(f"warning: {said}", markup=False)
    if not authorised:
        console_err.print(f"warning: this key is not pinned in {root / 'region.yaml'} spec.attestation_signers for "
                          f"{meta['department']} ({meta['scope']}): the scan will refuse the set until it is",
                          markup=False)
    return int(ExitCode.OK)


@attest_app.command("check")
def check(
    root: RootOption = Path("."),
    today: Annotated[str | None, typer.Option("--as-of", "--today", help="Judge expiry on this date (YYYY-MM-DD), "
                                              "as `scan --as-of` does; --today is its older name.")] = None,
    pending: Annotated[bool, typer.Option("--pending", help="Also scan (static) and count, per system, the "
                                          "items pending without and with the attestations.")] = False,
    output: FormatOption = OutputFormat.text,
) -> int:
    """Verify every set under compliance/attestations: signature, pinned signer, expiry, evidence digests.

    Exit codes: 0 every set verifies, 1 invalid register, 2 a set that does not verify (signature, signer,
    evidence digest) or usage error.
    """
    from compliance.attest import load_attestations
    from xzgov.facts.thresholds import load_thresholds

    known = _references(root)
    day = _judged_day(today)
    index = load_attestations(root, today=day, systems=known.systems, departments=known.departments,
                              platform_departments=known.platform_departments,
                              known_item=known.item, described=known.described, thresholds=load_thresholds(root),
                              inherited=known.inherited)
    per_system: dict[str, int] = {}
    unused: list[str] = []
    for (system, item), record in index.items.items():
        why = known.not_used(system, item, record.info.level, record.info.crypto_level)
        if why:  # verified, but no scan uses it: said, not counted as attested
            unused.append(f"{record.location}: {record.item}: {why}")
            continue
        per_system[system] = per_system.get(system, 0) + 1
    platform = index.platform
    counts = _pending(root, day) if pending else {}
    if output is OutputFormat.json:
        print_json({"systems": per_system, "platform": platform.info.id if platform else None,
                    "expired": len(index.expired), "warnings": [*index.warnings, *unused],
                    "pending": {name: {"before": b, "after": a, "conclusion": c}
                                for name, (b, a, c) in counts.items()}})
        return int(ExitCode.OK)
    for message in (*index.warnings, *unused):
        console_err.print(f"warning: {message}", markup=False)
    for system, count in sorted(per_system.items()):
        console.print(safe_text(f"{system}: {count} attested item(s), signatures and evidence verified"))
    if platform is not None:
        console.print(safe_text(f"platform: {platform.info.id} {platform.platform} 第{platform.level}级 "
                                f"{platform.report} ({platform.agency}, {platform.assessed}) {platform.conclusion}; "
                                f"signed by {platform.info.signer}, expires {platform.info.expires}"))
    else:
        console.print("platform: no valid platform assessment record", markup=False)
    if counts:
        console.print("待核查条目 pending items per system: without → with the attestations (等保结论)", markup=False)
        for name, (without, with_, conclusion) in counts.items():
            console.print(safe_text(f"  {name:30} {without:4} → {with_:4}   {conclusion}"))
        console.print(safe_text(f"  {'total':30} {sum(c[0] for c in counts.values()):4} → "
                                f"{sum(c[1] for c in counts.values()):4}"))
    return int(ExitCode.OK)


def _pending(root: Path, today: dt.date) -> dict[str, tuple[int, int, str]]:
    from compliance.results import verdict_text
    from compliance.scanner import ScanOptions, scan

    # one day for the records and the rules (a day of its own in $XZGOV_AS_OF judged the rules on another)
    before = scan(ScanOptions(root=root, today=today, as_of=today, use_attestations=False))
    after = scan(ScanOptions(root=root, today=today, as_of=today))
    return {b.name: (sum(1 for i in b.items if i.score_status == "未测"),
                     sum(1 for i in a.items if i.score_status == "未测"),
                     ("确定 " if a.definite else "未定 (有待核查项) ") + verdict_text(a.dengbao)
                     + (f" {a.dengbao.value:.4f}" if a.definite and a.dengbao and a.dengbao.value is not None else ""))
            for b, a in zip(before.systems, after.systems, strict=True)}


def register(app: typer.Typer) -> None:
    """Add ``attest`` to ``app``."""
    app.add_typer(attest_app, name="attest")
