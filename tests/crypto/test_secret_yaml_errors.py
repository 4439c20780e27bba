"""Review finding 2 in the library: a YAML syntax error in a vars file (plaintext secrets before they are
vaulted) is reported as the problem, line and column — never PyYAML's text, which quotes the line."""

from __future__ import annotations

import pytest

from xzgov.core.errors import UsageError
from xzgov.crypto import vault

SECRET = "hunter2-0123456789abcdef"

MALFORMED = {
    "unterminated quote": f'db:\n  password: "{SECRET}\n',
    "flow mapping": f"db: {{password: {SECRET}, user: app\n",
    "undefined alias": f"db:\n  password: *{SECRET}\n",
    "unknown tag": f"db:\n  password: !<{SECRET}> x\n",
    "bad indentation": f"db:\n  password: {SECRET}\n user: app\n",
}


CASES = [(shape, parse) for shape in MALFORMED for parse in ("check_text", "load_yaml_decrypted")
         if (shape, parse) != ("unknown tag", "check_text")]  # composing alone does not resolve tags


@pytest.mark.parametrize(("shape", "parse"), CASES)
def test_vault_yaml_errors_never_quote_the_file(shape: str, parse: str) -> None:
    text = MALFORMED[shape]
    with pytest.raises(UsageError) as raised:
        if parse == "check_text":
            vault.check_text(text, source="group_vars/db.yml")
        else:
            vault.load_yaml_decrypted(text, vault.VaultKey.generate(), source="group_vars/db.yml")
    error = raised.value
    shown = str(error) + "".join(d.message + d.hint for d in error.diagnostics)
    assert "hunter2" not in shown and "0123456789" not in shown, shown
    assert error.diagnostics[0].code == "yaml-syntax" and error.diagnostics[0].line >= 1
    assert error.__cause__ is None and error.__suppress_context__
