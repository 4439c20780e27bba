"""Detached signed bundles: an SM2-signed manifest of SM3 file digests (evidence, reports).

Bundle file (JSON, UTF-8, written in exactly one canonical layout: ``json.dumps(bundle,
indent=2, sort_keys=True, ensure_ascii=False) + "\\n"``; a bundle in any other layout is
refused, so every changed byte is detected)::

    {
      "signature": "<base64 of DER SEQUENCE{r, s}>",
      "signed": {
        "algorithm": "SM2-with-SM3",
        "created": "2026-01-31T08:00:00Z",
        "directories": ["reports"],          # signed directories (and the empty ones in them)
        "files": [{"path": "reports/a.json", "size": 123, "sm3": "<64 hex>"}, ...],
        "format": "xzgov-signed-bundle",
        "signer": {"fingerprint": "<SM3 of DER SPKI>", "public_key": "-----BEGIN PUBLIC KEY-----..."},
        "uid": "1234567812345678",
        "version": 1
      }
    }

The signature is SM2 (ID ``uid``) over the canonical JSON of ``signed``:
``json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")``.
Paths are POSIX, relative to the bundle's directory, and must stay inside it.

Only regular files are signed: a symbolic link or special file in what is signed is refused at
signing time, and at verification time every entry of a signed directory that is not a regular
file (symbolic link to a file or directory, FIFO, device, socket) is reported as ``added``; listed
files are opened without following symbolic links (in the file name or any parent directory below
the bundle's directory). A caller that uses a listed file asks :func:`verify_bundle` to ``keep`` it and
takes its bytes from :meth:`VerifyResult.content`: the bytes whose SM3 was checked, never the file opened
again (it may have been replaced since).

The bundle's directory tree holds what it signs and nothing else. Every entry anywhere below the
bundle's directory that the bundle does not sign is ``added`` and fails verification: a file not
listed — beside the bundle, in a signed directory or in any other subdirectory (a stale
``old-pages/report.html``) —, a link or special file, a directory that cannot be listed, and an
**empty directory** not recorded in ``directories`` (an empty directory means something was there or
is meant to be: it is reported like a file). ``sign`` records a directory it is given and every empty
directory inside it, and refuses (exit 2) to write a bundle beside anything it would not sign.

Trust: a valid signature only says the embedded key signed the bundle. :func:`verify_bundle`
therefore also requires the signer to be trusted: its fingerprint must be in ``trusted_fingerprints``
or, when that is None, in the trust store named by ``$XZGOV_TRUSTED_KEYS`` (a directory of
``*.pub.pem`` files, or a file of fingerprints, one per line). With no trust configured the result
is not ``ok`` unless ``any_signer=True`` is passed explicitly.

One module per job; import from here (``from xzgov.crypto import bundle``; ``bundle.sign_files``):
:mod:`.format` (the file), :mod:`.walk` (the one safe walk of signed files), :mod:`.sign`,
:mod:`.trust` (trusted signers), :mod:`.verify`.
"""

from __future__ import annotations

from xzgov.crypto.bundle.format import (
    ALGORITHM,
    DEFAULT_NAME,
    FORMAT,
    VERSION,
    canonical_json,
    load_bundle,
    render_bundle,
)
from xzgov.crypto.bundle.sign import build_manifest, sign_files
from xzgov.crypto.bundle.trust import (
    NOT_TRUSTED,
    TRUSTED_KEYS_ENV,
    configured_trusted_fingerprints,
    load_trust_store,
    normalise_fingerprint,
)
from xzgov.crypto.bundle.verify import VerifyResult, verify_bundle

__all__ = [
    "ALGORITHM",
    "DEFAULT_NAME",
    "FORMAT",
    "NOT_TRUSTED",
    "TRUSTED_KEYS_ENV",
    "VERSION",
    "VerifyResult",
    "build_manifest",
    "canonical_json",
    "configured_trusted_fingerprints",
    "load_bundle",
    "load_trust_store",
    "normalise_fingerprint",
    "render_bundle",
    "sign_files",
    "verify_bundle",
]
