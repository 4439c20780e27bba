"""``xzgov sign`` and ``xzgov verify``: detached SM2-signed bundles of SM3 file digests.

Exit codes: 0 signed / verified; 1 verification failed (tampered, untrusted or unpinned signer);
2 usage error or unreadable input (key, bundle, trust store).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xzgov.cli.crypto_common import (
    SIGNING_KEY_ENV,
    FormatOption,
    OutputFormat,
    load_any_public,
    load_signing_key,
    signing_key_path,
    with_warnings,
)
from xzgov.cli.output import console, console_err, print_diagnostics, print_json, safe_text
from xzgov.core.errors import Diagnostic, ExitCode, UsageError, XzgovError

#: ``xzgov.crypto.bundle.DEFAULT_NAME``, spelled out so that importing this module stays cheap
#: (tests/crypto/test_cli.py checks that the two agree).
DEFAULT_BUNDLE = "xzgov-bundle.json"


def sign(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (signed as whole trees).")],
    key: Annotated[
        Path | None,
        typer.Option("--key", "-k", help=f"SM2 private key (default: ${SIGNING_KEY_ENV}).", dir_okay=False),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Bundle to write; files must lie under its directory.")
    ] = Path(DEFAULT_BUNDLE),
    output: FormatOption = OutputFormat.text,
) -> int:
    """Write a detached signed bundle: SM3 of every file, signed with SM2 (see docs/crypto.md).

    Exit codes: 0 signed, 2 usage error or unreadable input (key, report directory), 3 the machine failed
    (nothing written).
    """
    from xzgov.crypto import bundle, keys

    key_path = signing_key_path(key)
    if key_path is None:
        raise UsageError(f"no signing key: give --key or set {SIGNING_KEY_ENV}")
    from xzgov.crypto.files import same_file

    if same_file(out, key_path):  # the bundle would replace the signing key
        raise UsageError(f"--out {out} is the signing key {key_path}; write the bundle elsewhere",
                         [Diagnostic(str(out), 0, 0, "--out", "same file as the signing key", code="same-file")])
    private = load_signing_key(key)
    # the bundle in place is the change: a signal from then on (the read-back below re-reads every file) lets the
    # command finish with its own code
    written = bundle.sign_files(paths, private, out, commits=True)
    # read back, pinned to our own key: never hand out a bundle that does not verify
    result = bundle.verify_bundle(written, [keys.fingerprint(private.public_key)])
    if not result.ok:  # pragma: no cover - would be a defect
        raise XzgovError(f"internal error: the bundle just written does not verify: {result.problems}",
                         exit_code=ExitCode.INTERNAL)
    if output is OutputFormat.json:
        print_json({"bundle": str(written), "files": result.files, "signer_fingerprint": result.signer_fingerprint,
                    "created": result.created})
    else:
        console.print(safe_text(f"signed {len(result.files)} file(s) into {written}"))
        console.print(f"signer fingerprint (SM3): {result.signer_fingerprint}", markup=False)
    return int(ExitCode.OK)


@with_warnings
def verify(
    bundle: Annotated[Path, typer.Argument(help="Signed bundle written by `xzgov sign`, or the folder of a signed "
                                            "report set (its xzgov-bundle.json).")],
    trusted_key: Annotated[
        list[Path] | None, typer.Option("--trusted-key", help="Public key the signer must have (repeatable).")
    ] = None,
    trusted_fingerprint: Annotated[
        list[str] | None,
        typer.Option("--trusted-fingerprint", help="Fingerprint the signer must have (repeatable)."),
    ] = None,
    any_signer: Annotated[
        bool,
        typer.Option("--any-signer", help="Accept any signer when no trusted key is configured "
                     "(checks only that the bundle is self-consistent; not for production)."),
    ] = False,
    output: FormatOption = OutputFormat.text,
) -> int:
    """Verify a bundle: signature, trusted signer, and every file (missing / added / changed).

    The signer must be trusted: --trusted-key / --trusted-fingerprint (repeatable), else the trust
    store $XZGOV_TRUSTED_KEYS (a directory of *.pub.pem files or a file of fingerprints). With no
    trust configured verification fails unless --any-signer is given.

    Exit codes: 0 verified, 1 verification failed (including an untrusted or unpinned signer),
    2 unreadable bundle or trust store, or usage error.
    """
    from xzgov.crypto import bundle as bundles
    from xzgov.crypto import keys

    trusted: list[str] | None = None
    if trusted_key or trusted_fingerprint:
        if any_signer:
            raise UsageError("--any-signer cannot be combined with --trusted-key/--trusted-fingerprint")
        trusted = [bundles.normalise_fingerprint(fp, source="--trusted-fingerprint")
                   for fp in trusted_fingerprint or []]
        trusted += [keys.fingerprint(load_any_public(p)[1]) for p in trusted_key or []]
    elif not any_signer:
        trusted = bundles.configured_trusted_fingerprints()  # None when $XZGOV_TRUSTED_KEYS is unset
    if bundle.is_dir() and not bundle.is_symlink():  # a signed report set's folder, as diff and merge take it
        inside = bundle / bundles.DEFAULT_NAME
        if not inside.exists() and not inside.is_symlink():
            raise UsageError(f"{bundle} is a folder without {bundles.DEFAULT_NAME}", [Diagnostic(
                str(bundle), 0, 0, "", f"no {bundles.DEFAULT_NAME} in this folder",
                f"give the bundle file `xzgov sign --out` wrote, or the folder of a signed report set "
                f"(`xzgov scan --out DIR --key K` writes DIR/{bundles.DEFAULT_NAME})", "usage")])
        bundle = inside
    result = bundles.verify_bundle(bundle, trusted, any_signer=any_signer)
    unpinned = trusted is None
    if output is OutputFormat.json:
        print_json(result.to_json())
        return int(ExitCode.OK if result.ok else ExitCode.FAILED)
    print_diagnostics(result.diagnostics())
    if result.ok:
        console.print(safe_text(f"OK: {len(result.files)} file(s) verified, signed {result.created} by "
                                f"{result.signer_fingerprint}"))
        if unpinned:
            console_err.print("warning: --any-signer: the signer key was not checked against trusted "
                              "keys; anyone can make a bundle that passes this check", markup=False)
        return int(ExitCode.OK)
    summary = [f"{label}: {', '.join(items)}" for label, items in
               (("missing", result.missing), ("added", result.added), ("changed", result.changed)) if items]
    if not result.signature_valid:
        summary.append("signature invalid")
    if result.key_trusted is False:
        summary.append("signer key not trusted")
    console_err.print(safe_text(f"FAILED: {bundle}: {'; '.join(summary) or 'bundle damaged'}"))
    if unpinned and not any_signer:
        console_err.print(
            f"hint: no trusted signer is configured. Pin it with --trusted-key SIGNER.pub.pem or "
            f"--trusted-fingerprint HEX (see `xzgov keys fingerprint`), or set "
            f"{bundles.TRUSTED_KEYS_ENV} to a directory of *.pub.pem files or a file of "
            f"fingerprints; --any-signer skips the check (self-consistency only)", markup=False)
    return int(ExitCode.FAILED)


def register(app: typer.Typer) -> None:
    """Add ``sign`` and ``verify`` to ``app``."""
    app.command("sign")(sign)
    app.command("verify")(verify)
