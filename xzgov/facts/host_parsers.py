"""Per-fact parsers of the gather script's sections (pure; tested on captured output).

:func:`parse_sections` turns the sections into the facts of :data:`xzgov.facts.contract.FACT_KEYS`,
one parser per fact. A section whose command is missing or failed yields no fact (or an empty one);
the scanner reports every rule that needed a missing fact as ``error``, never as pass.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

from xzgov.core.text import visible_text
from xzgov.crypto.b64 import strict_b64decode
from xzgov.facts.baseline import FILE_MODES
from xzgov.facts.host_script import ABSENT, Section

Sections = Mapping[str, Section]


def _text(sections: Sections, name: str) -> str:
    """A section's text whatever its exit status (commands that print partial output still help)."""
    return sections.get(name, ABSENT).text


def _ok(sections: Sections, name: str) -> Section | None:
    """A section whose command succeeded, else ``None``."""
    section = sections.get(name)
    return section if section is not None and section.rc == 0 else None


class _Reads(Mapping[str, Section]):
    """The script's sections, noting the names each parser reads (:func:`parse_sections` clears the note before
    each fact): a fact made from a section ``timeout`` ended (:attr:`Section.ended`) is not judged."""

    def __init__(self, sections: Sections) -> None:
        self._sections = sections
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> Section:
        self.read.add(name)
        return self._sections[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.read.add(name)
        return name in self._sections

    def __iter__(self) -> Iterator[str]:
        return iter(self._sections)

    def __len__(self) -> int:
        return len(self._sections)

    def ended(self, name: str) -> bool:
        section = self._sections.get(name)
        return section is not None and section.ended


def _active_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def _kv(text: str, sep: str = "=") -> dict[str, str]:
    values: dict[str, str] = {}
    for line in _active_lines(text):
        if sep in line:
            key, value = line.split(sep, 1)
            values[key.strip().lower()] = value.strip()
        elif sep == " " or sep.isspace():
            values[line.lower()] = ""
    return values


_CONF_ENTRY = re.compile(r"([^\s=]+)\s*(?:=\s*|\s+|$)(.*)$")


def _module_conf(text: str) -> dict[str, str]:
    """A PAM module's configuration file as the module reads it (faillock.conf(5), pwquality.conf(5)): everything
    from ``#`` is a comment, and a key is followed by ``=`` or by white space (``deny = 5   # five``, ``deny 5``);
    an option without a value (``silent``, ``enforce_for_root``) is kept with an empty one."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and (entry := _CONF_ENTRY.match(line)):
            values[entry.group(1).lower()] = entry.group(2).strip()
    return values


def _pam_lines(text: str, kind: str, module: str) -> list[list[str]]:
    """The module's arguments (the words after it; not the control's ``[success=1 default=bad]``) on each ``kind``
    line (``auth``, ``password``; ``-auth`` too) that names ``module``: a line of another type naming it
    (``account required pam_faillock.so``) does not put it in the ``kind`` stack."""
    found: list[list[str]] = []
    for words in (line.split() for line in _active_lines(text)):
        if words and words[0].lstrip("-").lower() == kind:
            at = next((index for index, word in enumerate(words) if word.endswith(module)), None)
            if at is not None:
                found.append(words[at + 1:])
    return found


def _pam_args(lines: list[list[str]]) -> dict[str, str]:
    """``key=value`` arguments of :func:`_pam_lines`' lines (a later line's value wins)."""
    args: dict[str, str] = {}
    for arguments in lines:
        for word in arguments:
            if "=" in word:
                key, value = word.split("=", 1)
                args[key.lower()] = value
    return args


#: The line the gather script prints before each PAM file it reads (``@file /etc/pam.d/common-auth``)
PAM_FILE_MARK = "@file "


def _pam_files(text: str) -> list[str]:
    """The PAM files of a section, each its own text (an older script's answer without marks: one)."""
    files: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith(PAM_FILE_MARK):
            files.append([])
        else:
            files[-1].append(line)
    return ["\n".join(lines) for lines in files if any(line.strip() for line in lines)]


def _pam_stack(text: str, kind: str) -> list[tuple[str | dict[str, str], str, list[str]]]:
    """The ``kind`` stack in order: (control — a keyword, or the ``[value=action …]`` map —, module file name,
    arguments)."""
    stack: list[tuple[str | dict[str, str], str, list[str]]] = []
    for words in (line.split() for line in _active_lines(text)):
        if len(words) < 3 or words[0].lstrip("-").lower() != kind:
            continue
        control: str | dict[str, str] = words[1].lower()
        at = 2
        if words[1].startswith("["):
            at = next((i for i, word in enumerate(words) if word.endswith("]")), len(words)) + 1
            pairs = (pair.partition("=") for pair in " ".join(words[1:at]).strip("[]").lower().split())
            control = {value: action for value, _, action in pairs}
        if at < len(words):
            stack.append((control, words[at].rsplit("/", 1)[-1], words[at + 1:]))
    return stack


def _pam_reaches_authfail(stack: list[tuple[str | dict[str, str], str, list[str]]], start: int) -> bool:
    """Whether a wrong password at the pam_unix line ``start`` reaches a pam_faillock line counting failures before
    the stack ends: that line's failure action, then each line's (pam_permit and pam_faillock's other modes
    succeed, every other module fails as pam_unix did), ``[…=N]`` skipping N lines, ``die``/``done``/``requisite``
    ending the stack (``auth [success=1 default=ignore] pam_unix.so`` then ``requisite pam_deny.so`` left a later
    authfail line unreached)."""
    at = start
    while at < len(stack):
        control, module, arguments = stack[at]
        faillock = module == "pam_faillock.so"
        if at != start and faillock and not {"preauth", "authsucc"} & set(arguments):
            return True
        succeeded = at != start and (faillock or module == "pam_permit.so")
        if isinstance(control, dict):
            action = control.get("success" if succeeded else "auth_err", control.get("default", "ignore"))
        elif succeeded:
            action = "done" if control == "sufficient" else "ok"
        else:
            action = "die" if control == "requisite" else "ignore"  # required: bad, the stack goes on
        if action in ("die", "done"):
            return False
        at += 1 + (int(action) if action.isdigit() else 0)
    return False


def _unit_states(text: str) -> dict[str, str]:
    """``<unit> <state>`` lines → unit → state."""
    pairs = (line.split(maxsplit=1) for line in text.splitlines())
    return {pair[0]: pair[1].strip() for pair in pairs if len(pair) == 2}


def _first_active(states: Mapping[str, str]) -> str:
    return next((unit for unit, state in states.items() if state == "active"), "")


_UNIT_SUFFIXES = (".service", ".socket")


def _units(text: str, what: str) -> list[str]:
    """The unit names of a ``systemctl list-unit-files`` / ``list-units --type=service,socket`` listing. A line
    naming no service or socket unit, or no unit at all, is not such a listing (a host's systemd always has some:
    journald, the SSH server): raised, so the fact is missing and its rule an error, never a pass on nothing."""
    names = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.replace("●", " ").split()
        if not words:
            continue
        if not words[0].endswith(_UNIT_SUFFIXES):
            raise ValueError(f"{what} line {number} names no service or socket unit: {line.strip()[:80]!r}")
        names.append(words[0])
    if not names:
        raise ValueError(f"{what} lists no unit (systemd always has enabled and active ones)")
    return names


def _stat(text: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        words = line.split(maxsplit=3)
        if len(words) == 4:
            mode, owner, group, path = words
            found[path] = {"mode": mode.zfill(4), "owner": owner, "group": group, "exists": True}
    return found


# ------------------------------------------------------------------------------------------- per fact


#: sshd_config(5) TIME FORMATS: seconds per unit
_SSHD_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: the keywords whose value is a time (``sshd -T`` prints them in seconds; a Match block's line as written)
_SSHD_TIME_KEYS = frozenset({"clientaliveinterval", "logingracetime"})
#: the Include sshd_config's own (Debian's) names: the files the gather reads anyway
SSHD_READ_INCLUDES = frozenset({"/etc/ssh/sshd_config.d/*.conf", "sshd_config.d/*.conf"})


def _sshd_value(key: str, value: str) -> str:
    """A Match block's value as sshd reads it (and ``sshd -T`` prints it): quotes removed, a time in seconds
    (``5m`` → ``300``, ``1h30m`` → ``5400``)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if key in _SSHD_TIME_KEYS:
        parts = re.findall(r"(\d+)([smhdwSMHDW]?)", value)
        if parts and "".join(number + unit for number, unit in parts) == value:
            return str(sum(int(number) * _SSHD_TIME_UNITS[unit.lower()] for number, unit in parts))
    return value


def sshd_match_blocks(text: str) -> list[dict[str, Any]]:
    """The ``sshd_match`` section (file, tab, line of every Match block, and every Include line) → each
    conditional block: its criteria, file and settings (keyword → value as sshd reads it, the first of a keyword
    as sshd takes it). ``Match all`` is left out: ``sshd -T`` applies it already."""
    blocks: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for raw in text.splitlines():
        source, _, line = raw.partition("\t")
        words = re.split(r"\s*=\s*|\s+", line.strip(), maxsplit=1)
        if not words[0]:
            continue
        key, value = words[0].lower(), (words[1] if len(words) > 1 else "").strip()
        if key == "match":
            current = {"criteria": value, "source": source, "settings": {}}
            blocks.append(current)
        elif current is not None and current["source"] == source:
            current["settings"].setdefault(key, _sshd_value(key, value))
    return [block for block in blocks if block["criteria"].lower() != "all"]


def sshd_unread_includes(text: str) -> list[str]:
    """The Include lines of the ``sshd_match`` section whose files the scan does not read: one inside a Match block
    (sshd_config(5): conditional inclusion — its settings apply to the block's connections, and ``sshd -T``
    leaves them out), and one outside any, of other files than ``sshd_config.d/*.conf`` (a Match block there is
    not seen). A rule judging sshd reports them: what they set is not known, so it is not a pass."""
    unread: list[str] = []
    current: tuple[str, str] | None = None  # (source, criteria) of the Match block a line is in
    for raw in text.splitlines():
        source, _, line = raw.partition("\t")
        words = re.split(r"\s*=\s*|\s+", line.strip(), maxsplit=1)
        key, value = words[0].lower(), (words[1] if len(words) > 1 else "").strip()
        if key == "match":
            current = (source, value)
        elif key == "include":
            inside = current is not None and current[0] == source and current[1].lower() != "all"
            if inside and current is not None:
                unread.append(f"{source}: Match {current[1]}: Include {value}")
            elif value not in SSHD_READ_INCLUDES:
                unread.append(f"{source}: Include {value}")
    return unread


def sshd_views(config: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Every view of sshd's settings a connection may get: ("", the global ``sshd -T`` values), then per conditional
    Match block ("Match <criteria> (<file>): ", the values with the block's settings over them). A rule judging
    sshd judges each (a Match block allowing root or password login passed as the global "no")."""
    return [("", config), *((f"Match {block['criteria']} ({block['source']}): ", {**config, **block["settings"]})
                            for block in config.get("match") or ())]


def sshd_config(sections: Sections) -> dict[str, Any] | None:
    """``sshd -T`` → option → value (``None`` when it failed); ``match``: the conditional Match blocks
    (:func:`sshd_match_blocks`), which override those values for the connections they match."""
    sshd = _ok(sections, "sshd")
    if sshd is None or not sshd.text.strip():
        return None
    config: dict[str, Any] = {}
    for line in sshd.text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            config[key.lower()] = value.strip()
    config["match"] = sshd_match_blocks(_text(sections, "sshd_match"))
    config["unread_includes"] = sshd_unread_includes(_text(sections, "sshd_match"))
    return config


def pam_faillock(sections: Sections) -> dict[str, Any]:
    """pam_faillock in the ``auth`` stack counting failures: a line with ``authfail`` (or without a mode: the
    default) — ``preauth`` alone only refuses accounts already locked, which nothing then locks — that a wrong
    password at each pam_unix line reaches (:func:`_pam_reaches_authfail`)."""
    lines = _pam_lines(_text(sections, "pam_auth"), "auth", "pam_faillock.so")
    in_stack, pam_args = bool(lines), _pam_args(lines)
    counting = any(not {"preauth", "authsucc"} & set(arguments) for arguments in lines)
    # each file is a stack of its own (system-auth and password-auth on RHEL): a jump never runs into the next file
    stacks = [_pam_stack(text, "auth") for text in _pam_files(_text(sections, "pam_auth"))]
    counting = counting and all(_pam_reaches_authfail(stack, at) for stack in stacks
                                for at, (_, module, _) in enumerate(stack) if module == "pam_unix.so")
    conf = _module_conf(faillock.text) if (faillock := _ok(sections, "faillock_conf")) else {}
    merged = {**conf, **pam_args}
    if merged.get("unlock_time") == "never":  # faillock.conf(5): never unlocked by time, as unlock_time=0
        merged["unlock_time"] = "0"
    return {
        "configured": in_stack or bool(conf),
        "in_auth_stack": in_stack and counting,
        # pam_faillock defaults (man faillock.conf): deny 3, unlock_time 600, fail_interval 900
        "deny": merged.get("deny", "3" if in_stack else None),
        "unlock_time": merged.get("unlock_time", "600" if in_stack else None),
        "fail_interval": merged.get("fail_interval", "900" if in_stack else None),
    }


def _login_defs(text: str) -> dict[str, str]:
    """login.defs as shadow's ``def_load`` reads it: the value is the rest of the line after the key (a ``#`` there
    is part of it, not a comment), inside double quotes when it starts with one; the last line of a key wins."""
    values: dict[str, str] = {}
    for line in _active_lines(text):
        words = line.strip().split(None, 1)
        if len(words) == 2:
            value = words[1].strip()
            if value.startswith('"'):
                value = value[1:].split('"', 1)[0]
            values[words[0].lower()] = value
    return values


def _login_defs_number(values: Mapping[str, str], key: str, default: str) -> str:
    """A numeric login.defs value as shadow's ``getlong`` takes it (``strtol`` base 0, the whole value): anything
    else (``90   # 90 天``, ``090``) is a configuration error and shadow uses its default — ``default`` here."""
    value = values.get(key)
    if value is None:
        return default
    try:
        return str(int(value, 0))
    except ValueError:
        return default


def password_policy(sections: Sections) -> dict[str, Any]:
    lines = _pam_lines(_text(sections, "pam_password"), "password", "pam_pwquality.so")
    in_stack, pwq_args = bool(lines), _pam_args(lines)
    pwq = {**_module_conf(_text(sections, "pwquality")), **pwq_args}
    login_defs = _login_defs(_text(sections, "login_defs"))
    module = _ok(sections, "pwquality_module")
    return {
        "pwquality_in_stack": in_stack,
        # None: not asked (an older script); False: named in the stack, yet no pam_pwquality.so on the host
        "pwquality_installed": ("module " in module.text) if module else None,
        "minlen": pwq.get("minlen", "8" if in_stack else None),
        "minclass": pwq.get("minclass", "0"),
        # pwquality.conf(5): with enforcing = 0 a weak password is only warned about, then accepted (the PAM
        # argument overrides the file); 1 by default
        "enforcing": pwq.get("enforcing", "1"),
        **{k: pwq.get(k, "0") for k in ("dcredit", "ucredit", "lcredit", "ocredit")},
        "pass_max_days": _login_defs_number(login_defs, "pass_max_days", "99999"),
        "pass_min_days": _login_defs_number(login_defs, "pass_min_days", "0"),
        "pass_warn_age": _login_defs_number(login_defs, "pass_warn_age", "7"),
        "accounts_max_days": _accounts_max_days(sections),
        # pam_unix's nullok in the auth stack: an account whose password is empty logs in without one (Debian's
        # profile has it; a libpam-runtime update put it back after the role removed it)
        "empty_passwords": any(word.startswith("nullok") for arguments in
                               _pam_lines(_text(sections, "pam_auth"), "auth", "pam_unix.so") for word in arguments),
    }


def _accounts_max_days(sections: Sections) -> dict[str, int | None] | None:
    """Each account with a password and its maximum password age (``None``: no maximum, the password never
    expires); ``None`` when /etc/shadow could not be read (not root, an older script): not judged then."""
    read = _ok(sections, "shadow_ageing")
    if not read:
        return None
    accounts: dict[str, int | None] = {}
    for line in _active_lines(read.text):
        name, _, days = line.partition(" ")
        accounts[name] = _int_or_none(days)
    return accounts


_SHELL_COMMENT = re.compile(r"(?:^|\s)#.*$")
#: a read-only declaration of TMOUT as a command of its own (at the start of the line or after ; & | ( then do else):
#: `export readonly TMOUT=600` exports a variable named "readonly" and leaves TMOUT writable
_READONLY_TMOUT = re.compile(r"(?:^|[;&|(]\s*|\b(?:then|do|else)\s+)"
                             r"(?:readonly|typeset\s+-\w*r\w*|declare\s+-\w*r\w*)(?:\s+-\w+)*\s+TMOUT\b")


def shell_timeout(text: str) -> dict[str, Any]:
    """``grep -H TMOUT`` output (the files in the order a login shell reads them) → the TMOUT value in effect,
    whether it is read-only, and where it is set. Once TMOUT is read-only bash refuses every later assignment
    ("TMOUT: readonly variable"): the first read-only value stays (the last one seen was taken, 600 s where a
    vendor's readonly 3600 s was in effect); text after ``#`` is a comment (its "readonly TMOUT" counted)."""
    value: int | None = None
    readonly = False
    source = ""
    for raw in text.splitlines():
        path, _, line = raw.partition(":")
        line = _SHELL_COMMENT.sub("", line).strip()
        if not line or readonly:
            continue
        found = re.search(r"TMOUT=(\d+)", line)
        if found:
            value, source = int(found.group(1)), path
        # a declaration (readonly [-x] TMOUT[=…], declare/typeset -r…): not `readonly -p | grep TMOUT`, the roles'
        # own check whether a TMOUT is read-only already
        if _READONLY_TMOUT.search(line):
            readonly = True
    return {"tmout": value, "readonly": readonly, "source": source}


def _kernel_audit(sections: Sections) -> bool:
    # A kernel built without audit (containers, some VMs) cannot run auditd; only the configuration counts.
    status = _text(sections, "auditctl_status")
    return not any(sign in status for sign in ("audit support not in kernel", "Cannot open netlink audit socket"))


def _audit_enabled(sections: Sections) -> str:
    """The kernel's audit switch from ``auditctl -s``: "0" off (auditctl -e 0, audit=0 on the command line), "1" on,
    "2" on and locked; "" unknown. Only a successful ``auditctl -s`` tells: a failed one is no evidence either way."""
    status = _ok(sections, "auditctl_status")
    return next((line.split()[1] for line in _active_lines(status.text)
                 if line.startswith("enabled ") and len(line.split()) > 1), "") if status else ""


def audit_rules(sections: Sections) -> dict[str, Any]:
    loaded = _ok(sections, "auditctl_rules")
    rules = [line for line in _active_lines(loaded.text) if line != "No rules"] if loaded else []
    configured = [line for line in _active_lines(_text(sections, "audit_rules_files"))
                  if line.startswith(("-a", "-w"))]
    return {"auditd_active": _text(sections, "auditd_active").strip() == "active", "rules": rules,
            "kernel_audit": _kernel_audit(sections), "configured_rules": configured,
            "enabled": _audit_enabled(sections)}


def audit_log_protection(sections: Sections) -> dict[str, Any]:
    enabled = _audit_enabled(sections)
    audit_stat = _stat(_text(sections, "audit_dir"))
    directory = audit_stat.get("/var/log/audit")
    return {
        "exists": directory is not None,
        "log_dir_mode": directory["mode"] if directory else None,
        "log_owner": directory["owner"] if directory else None,
        "log_file_modes": {path: info["mode"] for path, info in audit_stat.items() if path != "/var/log/audit"},
        "auditd_conf": _kv(conf.text) if (conf := _ok(sections, "auditd_conf")) else {},
        "immutable": enabled == "2",
        "immutable_configured": "-e 2" in _active_lines(_text(sections, "audit_rules_files")),
        "kernel_audit": _kernel_audit(sections),
    }


_ACTION = re.compile(r"action\s*\((.*?)\)", re.DOTALL | re.IGNORECASE)
_PAIR = re.compile(r"([A-Za-z.]+)\s*=\s*\"([^\"]*)\"")
_LEGACY = re.compile(r"^\S+\s+(@@?)(?:\(([^)]*)\))?\[?([A-Za-z0-9.:_-]+?)\]?(?::(\d+))?(?:;\S+)?$")


_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def parse_rsyslog(text: str) -> list[dict[str, Any]]:
    """Forwarding targets of an rsyslog configuration (RainerScript ``omfwd`` actions and legacy ``@``/``@@``);
    ``tls`` means encrypted to an authenticated server (:data:`_SERVER_AUTHENTICATED`).
    What rsyslog ignores is left out: ``/* … */`` comments, and an object whose ``config.enabled`` is not ``on``
    (rsyslog 8.33+); an action commented out either way passed as forwarding over TLS."""
    lines = _active_lines(_BLOCK_COMMENT.sub(" ", text))
    body = "\n".join(lines)
    global_driver = global_cert = ""
    found = re.search(r"global\s*\((.*?)\)", body, re.DOTALL | re.IGNORECASE)
    if found:
        pairs = {k.lower(): v for k, v in _PAIR.findall(found.group(1))}
        global_driver = pairs.get("defaultnetstreamdriver", "").lower()
        global_cert = pairs.get("defaultnetstreamdrivercertfile", "")
    legacy_driver = ""
    legacy_mode = ""
    legacy_auth = ""
    for line in lines:
        if line.lower().startswith("$defaultnetstreamdriver "):
            legacy_driver = line.split()[1].lower()
        if line.lower().startswith("$actionsendstreamdrivermode "):
            legacy_mode = line.split()[1]
        if line.lower().startswith("$actionsendstreamdriverauthmode "):
            legacy_auth = line.split()[1].lower()
    targets: list[dict[str, Any]] = []
    unreached = _unreached(body)
    for action in _ACTION.finditer(body):
        if unreached(action.start()):
            continue  # in a ruleset no input or call runs, or after an unconditional stop: it sends nothing
        block = action.group(1)
        pairs = {_OMFWD_ALIASES.get(k.lower(), k.lower()): v for k, v in _PAIR.findall(block)}
        if pairs.get("type", "").lower() != "omfwd" or pairs.get("config.enabled", "on").lower() != "on":
            continue
        driver = pairs.get("streamdriver", global_driver).lower()
        encrypted = driver in ("gtls", "ossl") and pairs.get("streamdrivermode", "0") == "1"
        auth = pairs.get("streamdriverauthmode", "anon").strip().lower() or "anon"
        tls = encrypted and auth in _SERVER_AUTHENTICATED
        targets.append({"host": pairs.get("target", ""), "port": port_number(pairs.get("port", "514") or "514"),
                        "protocol": pairs.get("protocol", "udp").lower(), "tls": tls,
                        "encrypted": encrypted, "auth_mode": auth,
                        "client_cert": tls and bool(pairs.get("streamdriver.certfile", global_cert))})
    for line in lines:
        legacy = _LEGACY.match(line)
        if legacy:
            tcp = legacy.group(1) == "@@"
            encrypted = tcp and legacy_driver in ("gtls", "ossl") and legacy_mode == "1"
            auth = legacy_auth or "anon"
            targets.append({"host": legacy.group(3), "port": int(legacy.group(4) or 514),
                            "protocol": "tcp" if tcp else "udp", "tls": encrypted and auth in _SERVER_AUTHENTICATED,
                            "encrypted": encrypted, "auth_mode": auth})
    return targets


_RULESET = re.compile(r"\bruleset\s*\(([^)]*)\)\s*\{", re.IGNORECASE)
_BOUND = re.compile(r"\bruleset\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
_CALL = re.compile(r"\bcall\s+[\"']?([A-Za-z0-9_.-]+)[\"']?", re.IGNORECASE)
_NAME = re.compile(r"\bname\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
#: an unconditional stop at the top level: the all-messages selector with ``stop`` (a bare ``stop`` line may be the
#: body of an ``if … then`` on the line before: conditional)
_STOP = re.compile(r"^[ \t]*\*\.\*[ \t]+stop[ \t]*$", re.IGNORECASE | re.MULTILINE)


def _braces(text: str) -> list[tuple[int, int]]:
    """The outermost ``{ … }`` blocks of an rsyslog configuration (quoted strings skipped), as (start, end)."""
    blocks: list[tuple[int, int]] = []
    depth, opened, quoted = 0, 0, False
    for at, char in enumerate(text):
        if char == '"' and (at == 0 or text[at - 1] != "\\"):
            quoted = not quoted
        elif quoted:
            continue
        elif char == "{":
            if depth == 0:
                opened = at
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                blocks.append((opened, at + 1))
    if depth:
        blocks.append((opened, len(text)))
    return blocks


def _unreached(body: str) -> Callable[[int], bool]:
    """Whether an action at a position of an rsyslog configuration never runs: it is in a ``ruleset(name=…) { … }``
    that no input binds (``ruleset="…"``) and no ``call`` runs (``RSYSLOG_DefaultRuleset`` always runs; a
    ``call_indirect`` may run any), or at the top level after an unconditional ``*.* stop`` (which ends the default
    ruleset only: a bound ruleset after it still runs) — a review's forwarding action in such places passed as
    forwarding to the log centre."""
    blocks = _braces(body)
    used = {m.group(1) for m in _CALL.finditer(body)} | {m.group(1) for m in _BOUND.finditer(body)}
    indirect = re.search(r"\bcall_indirect\b", body, re.IGNORECASE) is not None
    rulesets: list[tuple[int, int, bool]] = []  # (start, end, runs)
    for found in _RULESET.finditer(body):
        named = _NAME.search(found.group(1))
        name = named.group(1) if named else ""
        block = next(((start, end) for start, end in blocks if start == found.end() - 1), None)
        if block is not None:
            rulesets.append((found.start(), block[1],
                             indirect or name == "RSYSLOG_DefaultRuleset" or name in used))
    stop = next((m.end() for m in _STOP.finditer(body)
                 if not any(start <= m.start() < end for start, end in blocks)), None)

    def unreached(position: int) -> bool:
        ruleset = next(((start, end, runs) for start, end, runs in rulesets if start <= position < end), None)
        if ruleset is not None:
            return not ruleset[2]
        return stop is not None and position >= stop

    return unreached


#: omfwd's other spellings of the same parameters (its parameter table: StreamDriver.Name, StreamDriver.Mode,
#: StreamDriver.AuthMode): an action written with them forwards over TLS all the same.
_OMFWD_ALIASES = {"streamdriver.name": "streamdriver", "streamdriver.mode": "streamdrivermode",
                  "streamdriver.authmode": "streamdriverauthmode"}

#: rsyslog's StreamDriverAuthMode values that authenticate the log server: ``anon`` (the default when none is
#: given) encrypts to whoever answers, so anyone on the path can pose as the log centre (not TLS forwarding in
#: the sense of the rules: ``tls`` is False for it; ``encrypted`` says the channel is encrypted all the same).
#: ``x509/certvalid`` is not enough either: the region's CA issues every host its client certificate, and any of
#: them would pass for the log centre.
_SERVER_AUTHENTICATED = frozenset({"x509/name", "x509/fingerprint"})


def port_number(text: str) -> int | None:
    """A TCP/UDP port written as text (ASCII digits, 1 to 65535; blanks around it allowed), or None for text
    that is no port (rsyslog would not forward there, ssh would not connect)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 65536 else None


def log_forwarding(sections: Sections) -> dict[str, Any]:
    daemon = _first_active(_unit_states(_text(sections, "syslog_active")))
    return {"daemon": daemon or "rsyslog", "active": bool(daemon),
            "targets": parse_rsyslog(_text(sections, "rsyslog_conf"))}


def chrony_servers(text: str) -> list[str]:
    """``server`` / ``pool`` / ``peer`` sources of a chrony configuration."""
    return [line.split()[1] for line in _active_lines(text)
            if line.split()[0] in ("server", "pool", "peer") and len(line.split()) > 1]


def timesyncd_servers(text: str) -> list[str]:
    """The servers systemd-timesyncd uses, from its configuration files concatenated in load order.

    As timesyncd.conf(5): each ``NTP=`` / ``FallbackNTP=`` adds to its list and an empty assignment
    resets it; the fallback servers are used when no ``NTP=`` server is configured. (Servers from
    DHCP/networkd and the compiled-in fallback are not visible here.)"""
    lists: dict[str, list[str]] = {"NTP": [], "FallbackNTP": []}
    for line in _active_lines(text):
        key, sep, value = line.partition("=")
        name = key.strip()  # systemd keys are case-sensitive
        if sep and name in lists:
            lists[name] = lists[name] + value.split() if value.strip() else []
    return lists["NTP"] or lists["FallbackNTP"]


#: chrony's leap states in which the clock is synchronised (a leap second announced is still synchronised)
CHRONY_SYNCHRONISED_LEAP = ("Normal", "Insert second", "Delete second")
#: chronyc's Reference ID of the ``local`` directive: the clock serves itself, no external source (chronyc(1))
CHRONY_LOCAL_REFERENCE = "7F7F0101"


def chrony_tracking(text: str) -> dict[str, Any]:
    """``chronyc -n tracking``: the reference (its ID in hex, upper case, and the address chronyc shows beside
    it), the leap status, the system clock's offset from NTP time in seconds (negative: slow) and the root
    dispersion in seconds (``None`` where a line is absent or unreadable)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    reference_id, _, shown = fields.get("Reference ID", "").partition(" ")

    def seconds(name: str) -> float | None:
        words = fields.get(name, "").split()
        try:
            number = float(words[0])
        except (IndexError, ValueError):
            return None
        return -number if "slow" in words else number

    return {"reference": reference_id.upper(), "reference_address": shown.strip("()"),
            "leap": fields.get("Leap status", ""),
            "offset_seconds": seconds("System time"),
            "root_dispersion": seconds("Root dispersion")}


def chrony_selected(text: str) -> str:
    """The source ``chronyc -n sources`` marks as selected (``*`` after the mode: ``^*`` a server, ``=*`` a
    peer), its address; "" when chrony has selected none (every source unreachable, a falseticker or too
    variable: it then keeps the clock running on its own, and its leap status can stay Normal)."""
    for line in text.splitlines():
        words = line.split()
        if len(line) > 2 and line[0] in "^=#" and line[1] == "*" and words:
            return words[1] if words[0] == line[:2] and len(words) > 1 else words[0][2:]
    return ""


def time_sync(sections: Sections) -> dict[str, Any]:
    """The running time daemon, the servers it is configured with, whether the clock is synchronised and, for
    chrony, what it has selected (``selected``: an address, "" for none, ``None`` when not read) and its
    tracking figures."""
    daemon = _first_active(_unit_states(_text(sections, "time_active")))
    chrony = chrony_servers(_text(sections, "chrony_conf"))
    timesyncd = timesyncd_servers(_text(sections, "timesyncd_conf"))
    ntp = chrony_servers(_text(sections, "ntp_conf"))  # ntpd's server/pool/peer lines read as chrony's do
    # the running daemon's own sources (never another daemon's leftover file: a timesyncd.conf judged an ntpd);
    # with none running, whichever is configured
    by_daemon = {"chrony": chrony, "chronyd": chrony, "systemd-timesyncd": timesyncd, "ntp": ntp, "ntpsec": ntp}
    servers = by_daemon.get(daemon, []) if daemon else chrony or timesyncd or ntp
    synced = _ok(sections, "ntp_synchronized")
    synchronised = None if synced is None else synced.text.strip() == "yes"
    result: dict[str, Any] = {"daemon": daemon, "active": bool(daemon), "servers": servers,
                              "synchronised": synchronised, "selected": None}
    tracking = _ok(sections, "chrony_tracking")
    if daemon.startswith("chrony") and tracking is not None:
        # chronyd's own view: the kernel flag behind timedatectl is never set when chronyd may not
        # adjust the clock (chronyd -x in containers). Its leap status alone stays Normal when every source
        # is lost (chrony 4.3 only logs "Can't synchronise"): the selected source says whether it follows one.
        figures = chrony_tracking(tracking.text)
        sources = _ok(sections, "chrony_sources")
        selected = None if sources is None else chrony_selected(sources.text)
        dispersion = figures["root_dispersion"]
        result.update(figures, selected=selected, synchronised=(
            figures["leap"] in CHRONY_SYNCHRONISED_LEAP and selected != ""
            and figures["reference"] != CHRONY_LOCAL_REFERENCE and (dispersion is None or dispersion <= 1.0)))
    return result


def services(sections: Sections) -> dict[str, list[str]] | None:
    enabled, active = _ok(sections, "services_enabled"), _ok(sections, "services_active")
    if enabled is None or active is None:
        return None
    return {"enabled": _units(enabled.text, "systemctl list-unit-files --state=enabled"),
            "active": _units(active.text, "systemctl list-units --state=active")}


def file_permissions(sections: Sections) -> dict[str, dict[str, Any]]:
    stat = _stat(_text(sections, "stat"))
    return {path: stat.get(path, {"exists": False}) for path in FILE_MODES}


def sysctl(sections: Sections) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in _text(sections, "sysctl").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


# ------------------------------------------------------------------ hardening depth (issue 17)


def kernel_params(sections: Sections) -> dict[str, Any]:
    """Kernel-wide sysctls: live values, keys the running kernel lacks, values configured in sysctl.d (last
    wins), and whether the host is a container (whose kernel-wide values belong to the host kernel)."""
    live: dict[str, str] = {}
    absent: list[str] = []
    configured: dict[str, str] = {}
    container: bool | None = None
    for line in _text(sections, "kernel_params").splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "container":
            container = rest.strip() == "yes"
        elif word == "absent" and rest.strip():
            absent.append(rest.strip())
        elif word in ("live", "conf"):
            key, sep, value = rest.partition("=")
            if sep:
                (live if word == "live" else configured)[key.strip()] = " ".join(value.split())
    return {"live": live, "absent": absent, "configured": configured, "container": container}


def _cmdline_params(words: list[str]) -> dict[str, str]:
    """Kernel parameters (``key=value``; a bare flag has the value "") — the last occurrence wins, as in the kernel."""
    params: dict[str, str] = {}
    for word in words:
        if word == "--":  # what follows goes to init, not to the kernel
            break
        key, _, value = word.partition("=")
        if key and not key.startswith("$"):
            params[key] = value
    return params


def kernel_cmdline(sections: Sections) -> dict[str, Any]:
    """The running kernel's command line (``/proc/cmdline`` → parameters), its build defaults for the
    residual-information parameters (``CONFIG_INIT_ON_FREE_DEFAULT_ON=y`` → ``init_on_free: "1"``), the
    parameters GRUB passes at the next boot (``GRUB_CMDLINE_LINUX*`` of /etc/default/grub and grub.d, in order),
    and whether the host is a container (which boots no kernel of its own)."""
    container: bool | None = None
    live: dict[str, str] | None = None
    build: dict[str, str] = {}
    grub_words: list[str] = []
    for line in _text(sections, "kernel_cmdline").splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "container":
            container = rest.strip() == "yes"
        elif word == "cmdline":
            live = _cmdline_params(rest.split())
        elif word == "build":
            key, sep, value = rest.strip().partition("=")
            if sep and key.startswith("CONFIG_") and key.endswith("_DEFAULT_ON"):
                build[key.removeprefix("CONFIG_").removesuffix("_DEFAULT_ON").lower()] = "1" if value == "y" else "0"
        elif word == "grub":
            _, sep, value = rest.partition("=")
            if sep:  # shell: drop the quotes and the expansions of earlier values (${VAR:+$VAR }, $VAR)
                value = re.sub(r"\$\{[^}]*\}|\$[A-Za-z_]\w*", " ", value.strip().strip("'\""))
                grub_words.extend(value.split())
    return {"container": container, "live": live, "build_defaults": build, "grub": _cmdline_params(grub_words)}


#: pam_unix's hashing options → the method they select (a line naming two is a misconfiguration: the last one
#: written is taken, never the strongest)
_PAM_UNIX_METHODS = {"md5": "MD5", "bigcrypt": "BIGCRYPT", "sha256": "SHA256", "sha512": "SHA512",
                     "blowfish": "BLOWFISH", "gost_yescrypt": "GOST_YESCRYPT", "yescrypt": "YESCRYPT"}


def password_hashing(sections: Sections) -> dict[str, Any]:
    """How ``passwd`` hashes a new password: the ``pam_unix.so`` line of the password stack (an algorithm option
    and ``rounds=`` there win), else ``login.defs`` (ENCRYPT_METHOD; the cost pam_unix reads is
    YESCRYPT_COST_FACTOR where the installed module reads it — section ``pam_unix_cost`` — else its default 5,
    or SHA_CRYPT_MAX_ROUNDS for SHA — not MIN). ``method`` / ``yescrypt_cost`` /
    ``sha_min_rounds`` / ``sha_max_rounds`` are login.defs' (``None`` when unset); ``pam_method`` / ``pam_rounds``
    the PAM line's; ``effective_method`` / ``effective_cost`` what results (``None``: the library's default)."""
    values: dict[str, str] = {}
    for line in _active_lines(_text(sections, "login_defs_hashing")):
        words = line.split()
        if len(words) >= 2:
            values[words[0].lower()] = words[1]
    method = values.get("encrypt_method", "").upper() or None
    yescrypt_cost = _int_or_none(values.get("yescrypt_cost_factor"))
    sha_min = _int_or_none(values.get("sha_crypt_min_rounds"))
    sha_max = _int_or_none(values.get("sha_crypt_max_rounds"))
    pam_method: str | None = None
    pam_rounds: int | None = None
    for arguments in _pam_lines(_text(sections, "pam_password"), "password", "pam_unix.so"):
        for word in arguments:
            if word.lower() in _PAM_UNIX_METHODS:
                pam_method = _PAM_UNIX_METHODS[word.lower()]
            elif word.lower().startswith("rounds="):
                pam_rounds = _int_or_none(word.split("=", 1)[1])
    effective = pam_method or method
    cost = pam_rounds
    # Linux-PAM before 1.5.3 (Debian 12) reads no YESCRYPT_COST_FACTOR: pam_unix then hashes yescrypt at its own
    # default cost 5 (measured: `$y$j9T$` with the factor 8 in login.defs, `$y$jCT$` with rounds=8 on the line)
    reads_factor = "reads-yescrypt-cost-factor" in _text(sections, "pam_unix_cost")
    if cost is None and effective == "YESCRYPT":
        cost = yescrypt_cost if reads_factor and yescrypt_cost is not None else PAM_UNIX_YESCRYPT_DEFAULT_COST
    elif cost is None and effective in ("SHA256", "SHA512"):
        cost = sha_max
    return {
        "method": method,
        "yescrypt_cost": yescrypt_cost,
        "sha_min_rounds": sha_min,
        "sha_max_rounds": sha_max,
        "pam_method": pam_method,
        "pam_rounds": pam_rounds,
        "effective_method": effective,
        "effective_cost": cost,
        "pam_reads_cost_factor": reads_factor,
    }


#: The yescrypt cost pam_unix uses when neither ``rounds=`` nor (where it reads it) YESCRYPT_COST_FACTOR gives one.
PAM_UNIX_YESCRYPT_DEFAULT_COST = 5


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def cron_permissions(sections: Sections) -> dict[str, Any]:
    """Cron/at paths → stat (absent paths omitted), and the users each allow file lists."""
    text = _text(sections, "cron_stat")
    allow: dict[str, list[str]] = {}
    stat_lines = []
    for line in text.splitlines():
        if line.startswith("allow "):
            _, path, *user = line.split(maxsplit=2)
            allow.setdefault(path, []).extend(u.strip() for u in user if u.strip())
        else:
            stat_lines.append(line)
    return {"paths": _stat("\n".join(stat_lines)), "allow": allow}


def login_banner(sections: Sections) -> dict[str, bool]:
    """Banner file → whether it carries the legal notice (授权 / authorised)."""
    found: dict[str, bool] = {}
    for line in _text(sections, "login_banner").splitlines():
        path, _, count = line.strip().partition(" ")
        if path:
            found[path] = (_int_or_none(count) or 0) > 0
    return found


def security_updates(sections: Sections) -> dict[str, Any]:
    """apt security source lines, unattended-upgrades settings, the state of apt's timers (which start it) and the
    number of pending security updates (``None`` when the host has no apt)."""
    sources: list[str] = []
    config: dict[str, str] = {}
    installed = failed = False
    pending: int | None = None
    timers: dict[str, str] = {}
    for line in _text(sections, "security_updates").splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "source":
            sources.append(rest.strip())
        elif word == "timer" and rest.split():
            unit, _, state = rest.strip().partition(" ")
            timers[unit] = state.strip()
        elif word == "config":
            key, _, value = rest.partition("=")
            config[key.strip()] = value.strip().strip("'\"")
        elif word == "installed":
            # dpkg's Status is "<want> <ok> <status>": held (`hold ok installed`) is installed too
            status = rest.split()
            installed = len(status) == 3 and status[1] == "ok" and status[2] == "installed"
        elif word == "pending":
            pending = _int_or_none(rest)
            failed = rest.strip() == "error"
    return {"sources": sources, "unattended": config.get("U") == "1", "installed": installed,
            "automatic_reboot": config.get("R", "").lower() == "true", "reboot_time": config.get("T") or None,
            # the count of pending updates is only as fresh as the package lists (apt-config prints nothing unset)
            "lists_refreshed": config.get("L", "0") not in ("", "0"),
            "pending": pending, "simulation_failed": failed,
            # apt's timers by unit → ``systemctl is-enabled`` (empty when not asked: an older script)
            "timers": timers}


def mandatory_access(sections: Sections) -> dict[str, Any]:
    """AppArmor: whether the kernel has the LSM (``None`` when it has none), the parser, and per profile file
    whether it compiles / is disabled / is missing; ``loaded`` maps a loaded profile name to its mode, ``running``
    each daemon of :data:`MAC_PROFILES` started by systemd to its process's confinement (``… (enforce)``,
    ``unconfined``)."""
    lsm: bool | None = None
    parser = False
    profiles: dict[str, str] = {}
    disabled: list[str] = []
    loaded: dict[str, str] = {}
    running: dict[str, str] = {}  # daemon → the confinement of its running process
    for line in _text(sections, "mandatory_access").splitlines():
        word, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if word == "lsm":
            lsm = None if rest == "absent" else rest.upper().startswith("Y")
        elif word == "parser":
            parser = True
        elif word in ("compiles", "broken", "missing"):
            profiles[rest] = word
        elif word == "disabled":
            disabled.append(rest)
        elif word == "loaded" and rest.endswith(")") and " (" in rest:
            name, _, mode = rest[:-1].rpartition(" (")
            loaded[name] = mode
        elif word == "process" and rest:
            daemon, _, label = rest.partition(" ")
            running.setdefault(daemon, label.strip())  # "/usr/sbin/sshd (enforce)", or "unconfined"
    return {"lsm": lsm, "parser": parser, "profiles": profiles, "disabled": disabled, "loaded": loaded,
            "running": running}


def listening(sections: Sections) -> list[dict[str, Any]] | None:
    """``ss -Htuln`` → [{protocol, address, port, loopback}] (``None`` when ss failed)."""
    section = _ok(sections, "listening")
    if section is None:
        return None
    sockets = []
    for number, line in enumerate(section.text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        address, _, port = words[4].rpartition(":") if len(words) >= 5 else ("", "", "")
        if words[0] not in ("tcp", "udp") or not port.isdigit():
            # not a socket of `ss -Htuln`: the answer is not the host's sockets (a rule must not pass on it)
            raise ValueError(f"ss -Htuln line {number} is no tcp/udp socket with a local port: {line.strip()[:80]!r}")
        address = address.strip("[]").split("%", 1)[0]
        loopback = address == "::1" or address.startswith(("127.", "::ffff:127.")) or address == "localhost"
        sockets.append({"protocol": words[0], "address": address, "port": int(port), "loopback": loopback})
    return sockets


#: address families whose base chains filter the host's own traffic (netdev/bridge/arp are not host filtering)
NFT_FAMILIES = ("inet", "ip", "ip6")
#: the hooks whose base chains the packet-filter fact keeps
NFT_HOOKS = ("input", "forward", "output")
_NFT_VERDICTS = ("accept", "drop", "reject", "jump", "goto", "return", "queue")
#: statements that act on a packet without deciding which packets a rule applies to (`counter jump base` jumps
#: for every packet)
_NFT_STATEMENTS = ("counter", "log")
#: how deep jumps are followed (the kernel's jump stack holds 16)
_NFT_JUMP_DEPTH = 16


def _nft_conditions(expressions: Any) -> list[dict[str, Any]]:
    """The expressions of a rule that choose the packets it applies to: all but its verdict and counter/log."""
    return [e for e in expressions or [] if isinstance(e, dict) and e
            and next(iter(e)) not in (*_NFT_VERDICTS, *_NFT_STATEMENTS)]


def _nft_value(value: Any) -> str:
    """The right-hand side of an nft JSON match as nft prints it (enough to read and locate a rule)."""
    if isinstance(value, list):
        return ",".join(_nft_value(v) for v in value)
    if isinstance(value, dict):
        if "set" in value:
            return "{ " + ", ".join(_nft_value(v) for v in value["set"]) + " }"
        if "prefix" in value:
            return f"{value['prefix'].get('addr')}/{value['prefix'].get('len')}"
        if "range" in value:
            return "-".join(_nft_value(v) for v in value["range"])
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _nft_left(left: Any) -> str:
    if isinstance(left, dict):
        if "meta" in left:
            return str(left["meta"].get("key", "meta"))
        if "ct" in left:
            return f"ct {left['ct'].get('key', '')}"
        if "payload" in left:
            return f"{left['payload'].get('protocol', '')} {left['payload'].get('field', '')}".strip()
    return _nft_value(left)


def _nft_values(right: Any) -> list[Any]:
    """The values an nft JSON match compares with: a set's elements, a list, or the one value."""
    return right.get("set", []) if isinstance(right, dict) else right if isinstance(right, list) else [right]


def _nft_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """One rule of ``nft -j``: readable text, its verdict (and jump target), the connection states it matches
    (``None``: it does not look at the state), and whether it matches destination / source ports."""
    parts: list[str] = []
    verdict, target = "", ""
    state: list[str] | None = None
    negated = dport = sport = False
    limited: set[str] = set()
    for expression in rule.get("expr") or []:
        if not isinstance(expression, dict) or not expression:
            continue
        if "vmap" in expression:  # ct state vmap { established : accept, related : accept, invalid : drop }
            vmap = expression["vmap"]
            key_of = vmap.get("key") if isinstance(vmap, dict) else None
            mapped = vmap.get("data") if isinstance(vmap, dict) else None
            pairs = mapped.get("set") if isinstance(mapped, dict) else None
            parts.append(f"{_nft_left(key_of)} vmap {_nft_value(mapped)}")
            if isinstance(key_of, dict) and isinstance(key_of.get("ct"), dict) and key_of["ct"].get("key") == "state" \
                    and isinstance(pairs, list):
                accepted = sorted(str(pair[0]) for pair in pairs if isinstance(pair, list) and len(pair) == 2
                                  and isinstance(pair[1], dict) and "accept" in pair[1])
                if accepted:  # the accepting branch of the map, read as `ct state {accepted} accept`
                    state, verdict = accepted, "accept"
                    if set(accepted) <= {"established", "related"}:
                        limited.add("reply state")
            continue
        if "match" in expression:
            match = expression["match"]
            left, right, op = match.get("left"), match.get("right"), str(match.get("op", "=="))
            parts.append(f"{_nft_left(left)} {'' if op in ('==', 'in') else op + ' '}{_nft_value(right)}")
            limit = _nft_limit(left, right, op)
            if limit:
                limited.add(limit)
            if isinstance(left, dict) and isinstance(left.get("ct"), dict) and left["ct"].get("key") == "state":
                state, negated = sorted(str(v) for v in _nft_values(right)), op in ("!=", "not")
            if isinstance(left, dict) and isinstance(left.get("payload"), dict):
                field = left["payload"].get("field")
                dport, sport = dport or field == "dport", sport or field == "sport"
            continue
        key = next(iter(expression))
        if key in _NFT_VERDICTS:
            verdict = key
            body = expression[key]
            target = str(body.get("target", "")) if isinstance(body, dict) else ""
            parts.append(f"{key} {target}".strip())
        else:
            parts.append(key)
    return {"handle": rule.get("handle"), "text": " ".join(parts), "verdict": verdict, "target": target,
            "state": state, "state_negated": negated, "dport": dport, "sport": sport,
            "limited_by": sorted(limited), "comment": str(rule.get("comment") or "")}


#: ICMP message types: what an ``icmp type`` / ``icmpv6 type`` match names
_ICMP = ("icmp", "icmpv6", "ipv6-icmp")


def _nft_icmp(right: Any) -> bool:
    """Whether an IP protocol match names only ICMP / ICMPv6 (by name, or by number where the host has no
    /etc/protocols: 1, 58)."""
    values = _nft_values(right)
    return bool(values) and all(str(v) in (*_ICMP, "1", "58") for v in values)


def _nft_everything(right: Any) -> bool:
    """Whether a match's right-hand side takes every address or port: a ``/0`` prefix, or a port range from 0 or
    1 to 65535 (alone or in a set)."""
    values = right["set"] if isinstance(right, dict) and isinstance(right.get("set"), list) else \
        right if isinstance(right, list) else [right]
    for value in values:
        if not isinstance(value, dict):
            continue
        prefix, span = value.get("prefix"), value.get("range")
        if isinstance(prefix, dict) and str(prefix.get("len")) == "0":
            return True
        if isinstance(span, list) and len(span) == 2 and str(span[0]) in ("0", "1") and str(span[1]) == "65535":
            return True
    return False


def _nft_vmap_rules(expressions: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """A rule with a verdict map on anything but the connection state (``iifname vmap { "lo" : accept, "eth1" :
    jump lan }``, ``tcp dport vmap { 22 : accept }``) as the rules it stands for, one per element: its matches,
    ``key == element`` and the element's verdict (nft(8): the map's verdict ends the rule). Read as one rule with
    no verdict, its accepts and jumps were never judged. ``ct state vmap`` stays one rule (:func:`_nft_rule`)."""
    for at, expression in enumerate(expressions):
        vmap = expression.get("vmap") if isinstance(expression, dict) else None
        if not isinstance(vmap, dict):
            continue
        key = vmap.get("key")
        if isinstance(key, dict) and isinstance(key.get("ct"), dict) and key["ct"].get("key") == "state":
            continue
        mapped = vmap.get("data")
        pairs = mapped.get("set") if isinstance(mapped, dict) else None
        if not isinstance(pairs, list):
            continue
        before = expressions[:at]
        return [[*before, {"match": {"op": "==", "left": key, "right": pair[0]}}, pair[1]]
                for pair in pairs if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], dict)]
    return [expressions]


def _nft_limit(left: Any, right: Any, op: str) -> str:
    """What a match of an accepting rule limits the accepted packets to, when it is a limit a default deny keeps
    meaning with: a destination port, a source address, the loopback interface, ICMP, the reply states
    (established/related), or a connection the host's own nat rules forwarded (``ct status dnat``). ``""`` for any
    other match (``ct state new``, ``iifname "eth0"``, ``ct state != invalid``): an accept with only those lets every
    (new) packet in, whatever the chain's policy."""
    if not isinstance(left, dict) or op in ("!=", "not"):
        return ""
    if isinstance(left.get("payload"), dict):
        payload = left["payload"]
        field, protocol = payload.get("field"), payload.get("protocol")
        if field in ("dport", "saddr") and _nft_everything(right):
            return ""  # `ip saddr 0.0.0.0/0`, `tcp dport 0-65535`: every packet matches
        if field == "dport":
            return "destination port"
        if field == "saddr":
            return "source address"
        if field == "type" and protocol in _ICMP:
            return "icmp type"
        # `ip protocol icmp`, `ip6 nexthdr icmpv6`: ICMP as `meta l4proto icmp` is
        if field in ("protocol", "nexthdr") and protocol in ("ip", "ip6") and _nft_icmp(right):
            return "icmp"
        return ""
    if isinstance(left.get("meta"), dict):
        key = left["meta"].get("key")
        if key in ("iif", "iifname") and right == "lo":
            return "loopback"
        if key == "l4proto" and _nft_icmp(right):
            return "icmp"
        return ""
    if isinstance(left.get("ct"), dict) and left["ct"].get("key") == "state":
        values = _nft_values(right)
        return "reply state" if values and {str(v) for v in values} <= {"established", "related"} else ""
    if isinstance(left.get("ct"), dict) and left["ct"].get("key") == "status":
        # `ct status dnat` (firewalld's filter_INPUT): only connections this host's own nat rules forwarded, on the
        # ports those rules name — not every new packet
        values = _nft_values(right)
        return "port forward (ct status dnat)" if values and {str(v) for v in values} <= {"dnat"} else ""
    return ""


def packet_filter(sections: Sections) -> dict[str, Any] | None:
    """``nft -j list ruleset`` → the base chains of the host's filter (families inet/ip/ip6, hooks input/forward/
    output): family, table, name, hook, priority, policy and their rules in order, a ``jump``/``goto`` to a regular
    chain of the same table replaced by that chain's rules (``via``) under the jump's own matches; ``terminal``:
    the chain's own last rule when it is an unconditional drop/reject every packet its rules leave undecided
    reaches (firewalld's default deny under policy accept). ``available`` is False when nft is not installed;
    ``None`` when nft failed (not root) or printed no JSON."""
    section = _ok(sections, "nftables")
    if section is None:
        return None
    if section.text.strip() == "nft absent":
        return {"available": False, "tables": [], "chains": []}
    try:
        items = json.loads(section.text or "{}").get("nftables", [])
    except (ValueError, AttributeError):
        return None
    tables: list[str] = []
    dormant: set[tuple[str, str]] = set()
    chains: dict[tuple[str, str, str], dict[str, Any]] = {}
    rules: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if "table" in item:
            tables.append(f"{item['table'].get('family')} {item['table'].get('name')}")
            flags = item["table"].get("flags")
            if flags == "dormant" or (isinstance(flags, list) and "dormant" in flags):
                # nft(8): a dormant table's base chains are not attached to their hooks: they filter nothing
                dormant.add((str(item["table"].get("family")), str(item["table"].get("name"))))
        elif "chain" in item:
            c = item["chain"]
            chains[(str(c.get("family")), str(c.get("table")), str(c.get("name")))] = c
        elif "rule" in item:
            r = item["rule"]
            key = (str(r.get("family")), str(r.get("table")), str(r.get("chain")))
            rules.setdefault(key, []).append(r)

    def flattened(key: tuple[str, str, str], prefix: tuple[dict[str, Any], ...] = (),
                  path: tuple[tuple[str, str, str], ...] = ()) -> list[dict[str, Any]]:
        """The chain's rules, each under ``prefix`` (the matches of the jumps that led here). A jumped chain's rules
        apply only to the packets the jump matched (`iifname "eth0" jump open` with `open` a bare accept accepts
        all of eth0): they are inlined with the jump's matches before their own, as if written so."""
        found: list[dict[str, Any]] = []
        written = [(raw, own) for raw in rules.get(key, [])
                   for own in _nft_vmap_rules([e for e in raw.get("expr") or [] if isinstance(e, dict)])]
        for raw, own in written:
            rule = _nft_rule({**raw, "expr": [*prefix, *own]})
            inline = (key[0], key[1], rule["target"])
            if (rule["verdict"] in ("jump", "goto") and inline in chains and "hook" not in chains[inline]
                    and inline not in (*path, key) and len(path) < _NFT_JUMP_DEPTH):  # the kernel refuses loops
                conditions = tuple(_nft_conditions(own))
                found += [dict(r, via=r.get("via") or rule["target"])
                          for r in flattened(inline, (*prefix, *conditions), (*path, key))]
                if rule["verdict"] == "goto" and not conditions:
                    break  # a goto does not come back: this chain's later rules are never reached
            else:
                found.append(dict(rule, via=None))
        return found

    def terminal(key: tuple[str, str, str]) -> dict[str, Any] | None:
        own = rules.get(key, [])
        read = [_nft_rule(r) for r in own]
        # a goto or return in the base chain itself hands its packets to the policy, past the last rule
        if not own or any(r["verdict"] in ("goto", "return") for r in read) or read[-1]["verdict"] not in (
                "drop", "reject") or _nft_conditions(own[-1].get("expr")):
            return None
        return {"handle": read[-1]["handle"], "text": read[-1]["text"], "verdict": read[-1]["verdict"]}

    base = []
    for key, chain in chains.items():
        if key[0] in NFT_FAMILIES and chain.get("hook") in NFT_HOOKS and chain.get("type", "filter") == "filter" \
                and key[:2] not in dormant:
            base.append({"family": key[0], "table": key[1], "name": key[2], "hook": chain.get("hook"),
                         "priority": chain.get("prio"), "policy": str(chain.get("policy", "accept")),
                         "rules": flattened(key), "terminal": terminal(key)})
    return {"available": True, "tables": tables, "chains": base,
            "dormant": sorted(f"{family} {name}" for family, name in dormant)}


def anti_malware(sections: Sections) -> dict[str, Any]:
    """ClamAV: scanner present, units enabled, mirror lines, signature databases with their age in days
    (``official`` are freshclam's .cvd/.cld, the others are local), and the scheduled scan's last result
    (``last_scan``: ``status`` clamscan's exit, 1 malware found, 2 an error; ``ran`` whether it ran since boot)."""
    scanner = False
    units: dict[str, str] = {}
    mirrors: list[str] = []
    databases: list[dict[str, Any]] = []
    scan: dict[str, str] = {}
    for line in _text(sections, "anti_malware").splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "scanner":
            scanner = True
        elif words[0] == "unit" and len(words) >= 2:
            units[words[1]] = words[2] if len(words) > 2 else ""
        elif words[0] == "mirror" and len(words) >= 3:
            mirrors.append(f"{words[1]} {words[2]}")
        elif words[0] == "db" and len(words) >= 3:
            path = words[2]
            databases.append({"path": path, "age_days": _int_or_none(words[1]),
                              "official": path.endswith((".cvd", ".cld"))})
        elif words[0] == "scan" and len(words) >= 2:
            key, _, value = " ".join(words[1:]).partition("=")
            scan[key.strip()] = value.strip()
    last = None
    if scan:
        last = {"result": scan.get("Result") or None, "status": _int_or_none(scan.get("ExecMainStatus")),
                "ran": bool(scan.get("ExecMainExitTimestamp"))}
    return {"scanner": scanner, "units": units, "mirrors": mirrors, "databases": databases, "last_scan": last}


def file_integrity(sections: Sections) -> dict[str, Any]:
    """AIDE: installed, databases with their age in days, check timers' enabled state, the xzgov check's last
    result (``Result`` / ``ExecMainStatus``, ``ran`` whether it has run since boot), whether its failure starts
    the alert unit, the ``report_url`` lines of the AIDE configuration, and ``unreviewed_days``: how long ago the
    alert unit left changes for review that no ``xzgov-aide-init --reviewed`` accepted yet (None: none)."""
    installed = False
    databases: list[dict[str, Any]] = []
    units: dict[str, str] = {}
    check: dict[str, str] = {}
    alert = False
    reports: list[str] = []
    unreviewed: int | None = None
    for line in _text(sections, "file_integrity").splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "aide":
            installed = True
        elif words[0] == "db" and len(words) >= 3:
            databases.append({"path": words[2], "age_days": _int_or_none(words[1])})
        elif words[0] == "unit" and len(words) >= 2:
            units[words[1]] = words[2] if len(words) > 2 else ""
        elif words[0] == "check" and len(words) >= 2:
            key, _, value = " ".join(words[1:]).partition("=")
            check[key.strip()] = value.strip()
        elif words[0] == "alert":
            alert = True
        elif words[0] == "unreviewed":
            unreviewed = max(0, _int_or_none(words[1] if len(words) > 1 else "") or 0)
        elif words[0] == "report":
            key, sep, value = " ".join(words[1:]).partition("=")
            reports.append((value if sep else key).strip())
    last = None
    if check:
        last = {"result": check.get("Result") or None, "status": _int_or_none(check.get("ExecMainStatus")),
                "ran": bool(check.get("ExecMainExitTimestamp"))}
    return {"installed": installed, "databases": databases, "units": units, "last_check": last, "alert": alert,
            "reports": reports, "unreviewed_days": unreviewed}


def _options(text: str) -> list[str]:
    return [option for option in text.split(",") if option]


def mounts(sections: Sections) -> dict[str, Any]:
    """Live mounts of /proc, /dev/shm and /tmp (fstype, options; a directory that is not a mount point is
    absent), their /etc/fstab entries, the group named by /proc's ``gid=`` option, and whether the host is a
    container (whose /proc and /dev/shm the container manager sets up)."""
    live: dict[str, dict[str, Any]] = {}
    fstab: dict[str, dict[str, Any]] = {}
    groups: dict[str, str] = {}
    container: bool | None = None
    for line in _text(sections, "mounts").splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "container" and len(words) >= 2:
            container = words[1] == "yes"
        elif words[0] == "live" and len(words) >= 4:
            target = words[1].replace("\\x20", " ")
            live[target] = {"fstype": words[2], "options": _options(words[3])}
        elif words[0] == "fstab" and len(words) >= 5 and words[3] != "swap":
            fstab[words[2]] = {"source": words[1], "fstype": words[3], "options": _options(words[4])}
        elif words[0] == "group" and len(words) >= 3:
            groups[words[2]] = words[1]
    return {"container": container, "live": live, "fstab": fstab, "groups": groups}


def residual_info(sections: Sections) -> dict[str, Any]:
    """Swap areas in use (``/proc/swaps``: name, type), swap entries of /etc/fstab, /etc/crypttab (name → key
    file), the effective systemd-tmpfiles line for /tmp and /var/tmp (the first one wins: type, age), the
    live file system type of /tmp and its fstab type, and whether the host is a container."""
    swaps: list[dict[str, str]] = []
    fstab_swaps: list[str] = []
    crypttab: dict[str, str] = {}
    tmpfiles: dict[str, dict[str, str]] = {}
    container: bool | None = None
    tmp_live = tmp_fstab = None
    for line in _text(sections, "mounts").splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "container" and len(words) >= 2:
            container = words[1] == "yes"
        elif words[0] == "swap" and len(words) >= 3:
            swaps.append({"name": words[1], "type": words[2]})
        elif words[0] == "fstab" and len(words) >= 5 and words[3] == "swap":
            fstab_swaps.append(words[1])
        elif words[0] == "fstab" and len(words) >= 5 and words[2] == "/tmp":
            tmp_fstab = words[3]
        elif words[0] == "live" and len(words) >= 4 and words[1] == "/tmp":
            tmp_live = words[2]
        elif words[0] == "crypttab" and len(words) >= 3:
            crypttab[words[1]] = words[2]
        elif words[0] == "tmpfiles" and len(words) >= 3:
            tmpfiles.setdefault(words[2], {"type": words[1], "age": words[3] if len(words) > 3 else "-"})
    return {"container": container, "swaps": swaps, "fstab_swaps": fstab_swaps, "crypttab": crypttab,
            "tmpfiles": tmpfiles, "tmp_fstype": tmp_live, "tmp_fstab_fstype": tmp_fstab}


# ------------------------------------------------------------------------------------------------ all


def _stat_words(words: list[str]) -> dict[str, Any]:
    """``<mode> <owner> <group> <path>`` → {mode (octal string, 4 digits), owner, group, path}."""
    return {"mode": words[0].rjust(4, "0"), "owner": words[1], "group": words[2], "path": " ".join(words[3:])}


#: Linux-PAM's simple control words as the bracket form they stand for (pam.conf(5))
PAM_SIMPLE_CONTROLS: dict[str, dict[str, str]] = {
    "required": {"success": "ok", "new_authtok_reqd": "ok", "ignore": "ignore", "default": "bad"},
    "requisite": {"success": "ok", "new_authtok_reqd": "ok", "ignore": "ignore", "default": "die"},
    "sufficient": {"success": "done", "new_authtok_reqd": "done", "default": "ignore"},
    "optional": {"success": "ok", "new_authtok_reqd": "ok", "default": "ignore"},
}


#: the return-code keys and actions of PAM's bracket form (pam.conf(5)); PAM compares them with case
PAM_RETURN_KEYS = frozenset({
    "success", "open_err", "symbol_err", "service_err", "system_err", "buf_err", "perm_denied", "auth_err",
    "cred_insufficient", "authinfo_unavail", "user_unknown", "maxtries", "new_authtok_reqd", "acct_expired",
    "session_err", "cred_unavail", "cred_expired", "cred_err", "no_module_data", "conv_err", "authtok_err",
    "authtok_recover_err", "authtok_lock_busy", "authtok_disable_aging", "try_again", "ignore", "abort",
    "authtok_expired", "module_unknown", "bad_item", "conv_again", "incomplete", "default"})
PAM_ACTIONS = frozenset({"ignore", "bad", "die", "ok", "done", "reset"})


def _pam_control(text: str) -> dict[str, str]:
    """The bracket form ``[key=action …]`` as PAM parses it: keys and actions with case; a token it does not
    know makes every result ``bad`` (``_pam_parse_control`` fails and the default is BAD)."""
    control: dict[str, str] = {}
    for pair in text.split():
        key, sep, action = pair.partition("=")
        if not sep or key not in PAM_RETURN_KEYS or not (action in PAM_ACTIONS or action.isdigit()):
            return {"default": "bad"}
        control[key] = action
    return control


def _pam_entry(line: str, source: str) -> dict[str, Any] | None:
    """One ``account`` line of a PAM file as ``{control, module, args, file}`` (control: the bracket form; the
    simple words and the type are read without case, as PAM does), an include as ``{include, file}``, a
    substack as ``{substack, file}``."""
    kind, rest = ([*line.split("#", 1)[0].split(None, 1), ""])[:2]
    if kind == "@include":
        return {"include": rest.split()[0] if rest.split() else "", "file": source}
    if kind.lstrip("-").lower() != "account" or not rest.strip():
        return None
    if rest.lstrip().startswith("["):
        inside, _, rest = rest.lstrip()[1:].partition("]")
        control = _pam_control(inside)
    else:
        word, rest = ([*rest.split(None, 1), ""])[:2]
        if word.lower() in ("include", "substack"):
            return {word.lower(): rest.split()[0] if rest.split() else "", "file": source}
        control = dict(PAM_SIMPLE_CONTROLS.get(word.lower(), {"default": "bad"}))
    words = rest.split()
    return {"control": control, "module": words[0].rsplit("/", 1)[-1] if words else "", "args": words[1:],
            "file": source} if words else None


def pam_account_stack(files: Mapping[str, list[str]], service: str = "sshd") -> list[dict[str, Any]] | None:
    """The account stack ``service`` runs, in order, each module with its ``level`` (0; a substack's modules one
    more, after a ``{substack}`` header entry at the caller's level), includes spliced in at their level (``@include``
    and ``include``), from ``files`` (a PAM file's name → its account and include lines). PAM falls back to
    ``other`` for a service without a file; ``None`` when neither was read. An include of a file not read (or one
    nested past 8 levels, a loop) is a module nothing is known of (``(missing NAME)``)."""
    def resolve(name: str, level: int, depth: int) -> list[dict[str, Any]]:
        if name not in files or depth > 8:
            return [{"control": dict(PAM_SIMPLE_CONTROLS["required"]), "module": f"(missing {name})", "args": [],
                     "file": name, "level": level}]
        stack: list[dict[str, Any]] = []
        for line in files[name]:
            entry = _pam_entry(line, name)
            if entry is None:
                continue
            if "include" in entry:
                stack.extend(resolve(entry["include"], level, depth + 1))
            elif "substack" in entry:
                stack.append({"substack": entry["substack"], "file": name, "level": level})
                stack.extend(resolve(entry["substack"], level + 1, depth + 1))
            else:
                stack.append({**entry, "level": level})
        return stack

    start = service if service in files else "other" if "other" in files else None
    return None if start is None else resolve(start, 0, 0)


def _sssd_domains(options: list[tuple[str | None, str, str]]) -> dict[str, dict[str, str]]:
    """The options of each domain SSSD uses (``[sssd] domains``), as it reads them: sections by name, option
    names without case, a later value (a conf.d snippet's) over an earlier one. Output without section headers
    (a gather before they were printed) is read as one domain named ''."""
    if all(section is None for section, _key, _value in options):
        return {"": {key: value for _section, key, value in options}}
    sections: dict[str, dict[str, str]] = {}
    for section, key, value in options:
        if section is not None:
            sections.setdefault(section, {})[key] = value
    listed = [d.strip() for d in sections.get("sssd", {}).get("domains", "").split(",") if d.strip()]
    return {name: sections.get(f"domain/{name.lower()}", {}) for name in listed}


def directory_client(sections: Sections) -> dict[str, Any]:
    """SSSD enrolment in the operator directory: sssd active, the listed sssd.conf options of each domain SSSD
    uses (never the reader's password; ``options``: the directory's domain, the first with ``id_provider = ldap``),
    whether the CA file exists, NSS sources, pam_sss in the auth stack, the account stack sshd runs
    (``account_stack``), the role sudoers file (stat, ``%group`` rules and ``Cmnd_Alias`` lines) and sshd's
    AuthorizedKeysCommand."""
    result: dict[str, Any] = {"sssd_active": False, "config": None, "options": {}, "domains": {},
                              "ca_present": False, "nss": {}, "pam_sss": False, "sudoers": None, "sudo_rules": {},
                              "aliases": {}, "sshd": {}, "account_stack": None}
    options: list[tuple[str | None, str, str]] = []
    section: str | None = None
    pam_files: dict[str, list[str]] = {}
    for line in _text(sections, "directory_client").splitlines():
        kind, _, rest = line.strip().partition(" ")
        words = rest.split()
        if kind == "sssd":
            result["sssd_active"] = rest.strip() == "active"
        elif kind == "conf" and len(words) >= 4:
            result["config"] = _stat_words(words)
        elif kind == "section":
            section = rest.strip().strip("[]").strip().lower()
        elif kind == "option" and "=" in rest:
            key, value = rest.split("=", 1)
            options.append((section, key.strip().lower(), value.strip()))
        elif kind == "cacert" and rest.strip() == "present":
            result["ca_present"] = True
        elif kind == "nss" and ":" in rest:
            database, sources = rest.split(":", 1)
            result["nss"][database.strip()] = sources.split()
        elif kind == "pam" and rest.strip() == "sss":
            result["pam_sss"] = True
        elif kind == "pamfile" and rest.strip():
            pam_files.setdefault(rest.strip(), [])  # a file without account lines includes none
        elif kind == "pamline" and len(words) > 1:
            name, text = rest.split(None, 1)
            pam_files.setdefault(name, []).append(text)
        elif kind == "sudoers" and len(words) >= 4:
            result["sudoers"] = _stat_words(words)
        elif kind == "rule" and rest.startswith("Cmnd_Alias") and "=" in rest:
            name, commands = rest.removeprefix("Cmnd_Alias").split("=", 1)
            result["aliases"][name.strip()] = [c.strip() for c in re.split(r"(?<!\\),", commands) if c.strip()]
        elif kind == "rule" and rest.startswith("%") and words:
            result["sudo_rules"].setdefault(words[0][1:], []).append(" ".join(words[1:]))
        elif kind == "sshd" and words:
            result["sshd"][words[0].lower()] = " ".join(words[1:])
    domains = _sssd_domains(options)
    result["domains"] = domains
    result["options"] = next((o for o in domains.values() if o.get("id_provider", "").lower() == "ldap"),
                             next(iter(domains.values()), {}))
    result["account_stack"] = pam_account_stack(pam_files) if pam_files else None
    return result


def _seal_check(seal: Mapping[str, Any], public_key: Any, fingerprint: str) -> str:
    """``valid`` / ``invalid`` (the SM2 signature of the seal message does not verify) / ``untrusted`` (signed by
    another key than the centre's) / ``malformed`` — the message is the one xzgov.logchain.seal_message signs."""
    from xzgov.crypto import sm2

    try:
        message = (f"{seal['format']}\nsource={seal['source']}\ndate={seal['date']}\nlines={int(seal['lines'])}\n"
                   f"bytes={int(seal['bytes'])}\nprev={seal['prev']}\nhead={seal['head']}\n").encode()
        signature = strict_b64decode(seal["signature"])
    except (KeyError, TypeError, ValueError):
        return "malformed"
    if str(seal.get("signer", "")).lower() != fingerprint:
        return "untrusted"
    return "valid" if sm2.verify(public_key, message, signature) else "invalid"


def log_centre(sections: Sections) -> dict[str, Any]:
    """The log centre's retention and sealing: whether rsyslog receives and the sealer is installed, the
    ``--root`` / ``--retention-days`` of the seal unit, the seal timer (enabled, active) and its service's last
    run, and per source the kept days and the newest seal, its SM2 signature checked against the centre's
    public key and its head against the chain file's last value. Empty (receiver and sealer False) elsewhere."""
    from xzgov.crypto import keys

    result: dict[str, Any] = {"receiver": False, "sealer": False, "today": None, "root": None,
                              "retention_days": None, "timer": {"enabled": "", "active": ""},
                              "last_run": {"result": "", "status": None, "ran": False}, "public_key": False,
                              "sources": {}}
    public_key: Any = None
    fingerprint = ""
    seals: dict[str, dict[str, Any]] = {}
    heads: dict[str, str] = {}
    for line in _text(sections, "log_centre").splitlines():
        kind, _, rest = line.strip().partition(" ")
        words = rest.split()
        if kind in ("receiver", "sealer"):
            result[kind] = rest.strip() == "yes"
        elif kind == "today":
            result["today"] = rest.strip() or None
        elif kind == "arg" and len(words) == 2:
            if words[0] == "--root":
                result["root"] = words[1]
            else:
                result["retention_days"] = _int_or_none(words[1])
        elif kind == "timer":
            result["timer"] = {"enabled": words[0] if words else "", "active": words[1] if len(words) > 1 else ""}
        elif kind == "run" and "=" in rest:
            key, value = rest.split("=", 1)
            run = result["last_run"]
            if key == "Result":
                run["result"] = value.strip()
            elif key == "ExecMainStatus":
                run["status"] = _int_or_none(value)
            elif key == "ExecMainExitTimestamp":
                run["ran"] = bool(value.strip()) and value.strip() != "n/a"
        elif kind == "pubkey" and words:
            try:
                public_key = keys.public_key_from_der(base64.b64decode(words[0], validate=True))
                fingerprint = keys.fingerprint(public_key).lower()
                result["public_key"] = True
            except ValueError:
                result["public_key"] = False
        elif kind == "source" and words:
            values = dict(word.split("=", 1) for word in words[1:] if "=" in word)
            result["sources"][words[0]] = {"logs": _int_or_none(values.get("logs")) or 0,
                                           "oldest": values.get("oldest") or None, "sealed": None,
                                           "lines": None, "signature": None, "chain_matches": None}
        elif kind == "seal" and len(words) >= 2:
            try:
                seals[words[0]] = json.loads(rest.split(" ", 1)[1])
            except ValueError:
                seals[words[0]] = {}
        elif kind == "chainhead" and len(words) == 2:
            heads[words[0]] = words[1].lower()
    for source, seal in seals.items():
        entry = result["sources"].setdefault(source, {"logs": 0, "oldest": None, "sealed": None, "lines": None,
                                                      "signature": None, "chain_matches": None})
        entry["sealed"] = seal.get("date")
        entry["lines"] = seal.get("lines")
        entry["signature"] = _seal_check(seal, public_key, fingerprint) if public_key is not None else "no-key"
        if isinstance(seal.get("lines"), int) and seal["lines"] > 0:
            entry["chain_matches"] = heads.get(source) == str(seal.get("head", "")).lower()
    return result


def _certificate_facts(pem: bytes, cas: Mapping[str, list[Any]]) -> dict[str, Any]:
    """Subject, validity and which configured CA files issued a PEM certificate (checked with ``cryptography``)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return {"parsed": False, "subject": "", "not_after": None, "days_left": None, "valid_now": False,
                "issued_by": []}
    issued_by = []
    for path, authorities in cas.items():
        for authority in authorities:
            try:
                cert.verify_directly_issued_by(authority)
            except (ValueError, TypeError, InvalidSignature):
                continue
            issued_by.append(path)
            break
    now = dt.datetime.now(dt.UTC)
    return {"parsed": True, "subject": cert.subject.rfc4514_string(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "days_left": (cert.not_valid_after_utc - now).days,
            "valid_now": cert.not_valid_before_utc <= now <= cert.not_valid_after_utc, "issued_by": issued_by}


def log_tls(sections: Sections) -> dict[str, Any]:
    """rsyslog's TLS files: the CA files, client certificates (each checked against the CA files: issued by,
    valid now, days left) and keys (stat only) its configuration names; ``missing``: named but absent."""
    from cryptography import x509

    result: dict[str, Any] = {"ca_files": {}, "certs": {}, "keys": {}, "missing": []}
    pems: dict[tuple[str, str], bytes] = {}
    for line in _text(sections, "log_tls").splitlines():
        kind, _, rest = line.strip().partition(" ")
        words = rest.split()
        if kind == "file" and len(words) >= 5:
            target = {"CAFile": "ca_files", "CertFile": "certs", "KeyFile": "keys"}.get(words[0])
            if target:
                result[target][" ".join(words[4:])] = _stat_words(words[1:])
        elif kind == "missing" and len(words) >= 2:
            result["missing"].append({"kind": words[0], "path": " ".join(words[1:])})
        elif kind == "pem" and len(words) >= 2:
            try:
                pems[(words[0], words[1])] = base64.b64decode(words[2] if len(words) > 2 else "", validate=True)
            except ValueError:
                pems[(words[0], words[1])] = b""
    cas: dict[str, list[Any]] = {}
    for (kind, path), pem in pems.items():
        if kind == "CAFile":
            try:
                cas[path] = list(x509.load_pem_x509_certificates(pem))
            except ValueError:
                cas[path] = []
    for (kind, path), pem in pems.items():
        if kind == "CertFile" and path in result["certs"]:
            result["certs"][path].update(_certificate_facts(pem, cas))
    return result


def parse_sections(sections: Sections) -> tuple[dict[str, Any], dict[str, str]]:
    """Facts from the script's sections, and the facts that could not be gathered (key → why).

    Each fact is parsed on its own: a host's text one parser cannot read (a configuration value no daemon
    would accept, say) makes that fact missing, named so, and its rules errors; the host's other facts are
    still judged, and the host is not called unreachable."""
    facts: dict[str, Any] = {}
    missing: dict[str, str] = {}
    reading = _Reads(sections)
    sections = reading  # every parser below reads through it: what each fact was made of is known

    def take(key: str, parse: Callable[[], Any], absent: str = "", *, optional: bool = False) -> None:
        """``facts[key] = parse()``; when it gives None, the fact is missing if ``absent`` says why, and left
        out if ``optional``. A fact read from a section ``timeout`` ended is missing: its text is partial."""
        reading.read.clear()
        try:
            value = parse()
        except Exception as error:  # host-supplied text: a parser's surprise is this fact's, not the host's
            missing[key] = f"could not be parsed: {type(error).__name__}: {visible_text(str(error))[:200]}"
            return
        ended = [name for name in reading.read if reading.ended(name)]
        if ended:
            missing[key] = (f"section {', '.join(sorted(ended))} did not finish in its time on the host (ended by "
                            "`timeout`: a hung command); not judged from partial output")
            return
        if value is None and absent:
            missing[key] = absent
        elif value is not None or not optional:
            facts[key] = value  # None is a finding for some facts (no TMOUT set): kept

    take("sshd_effective_config", lambda: sshd_config(sections),
         "`sshd -T` failed (no OpenSSH server, or not run as root)")
    take("pam_faillock", lambda: pam_faillock(sections))
    take("password_policy", lambda: password_policy(sections))
    take("shell_timeout", lambda: shell_timeout(_text(sections, "tmout")))
    take("audit_rules", lambda: audit_rules(sections))
    take("audit_log_protection", lambda: audit_log_protection(sections))
    take("log_forwarding", lambda: log_forwarding(sections))
    take("time_sync", lambda: time_sync(sections))
    take("services", lambda: services(sections), "systemctl unavailable")
    # no `stat` answer is not "every file absent": the rule would pass having checked nothing
    take("file_permissions", lambda: file_permissions(sections) if "stat" in sections else None,
         "`stat` printed nothing")
    take("sysctl", lambda: sysctl(sections) or None, "sysctl printed nothing")
    for section, key, parse in (
            # hardening depth (issue 17); absent from the output of an older script
            ("kernel_params", "kernel_params", kernel_params),
            ("kernel_params", "password_hashing", password_hashing),
            ("kernel_params", "cron_permissions", cron_permissions),
            ("kernel_params", "login_banner", login_banner),
            ("kernel_cmdline", "kernel_cmdline", kernel_cmdline),
            ("security_updates", "security_updates", security_updates),
            ("mandatory_access", "mandatory_access", mandatory_access),
            ("anti_malware", "anti_malware", anti_malware),
            ("file_integrity", "file_integrity", file_integrity),
            ("directory_client", "directory_client", directory_client),
            ("log_centre", "log_centre", log_centre),
            ("log_tls", "log_tls", log_tls),
            ("mounts", "mounts", mounts),
            ("mounts", "residual_info", residual_info)):
        if section in sections:
            take(key, partial(parse, sections))
    if "nftables" in sections:
        take("packet_filter", lambda: packet_filter(sections), "`nft -j list ruleset` failed (not run as root?)")
    take("listening", lambda: listening(sections),
         "`ss -Htuln` failed (iproute2 missing?)" if "listening" in sections else "", optional=True)
    if _text(sections, "whoami").strip() != "0":
        # Without root the audit and sshd views are incomplete: say so rather than judge them.
        for key in ("audit_rules", "audit_log_protection", "sshd_effective_config"):
            facts.pop(key, None)
            missing[key] = "not gathered as root (sudo -n failed)"
        if "directory_client" in facts:  # /etc/sudoers.d and sssd.conf are root's only
            facts.pop("directory_client")
            missing["directory_client"] = "not gathered as root (sudo -n failed)"
        if "log_tls" in facts:  # the client key's directory is root's only
            facts.pop("log_tls")
            missing["log_tls"] = "not gathered as root (sudo -n failed)"
        if "log_centre" in facts:  # the seal unit and the storage are root's (adm's) only
            facts.pop("log_centre")
            missing["log_centre"] = "not gathered as root (sudo -n failed)"
    return facts, missing
