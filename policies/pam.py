"""Ways through a PAM account stack for a directory user outside the administrator role groups.

The account stack sshd runs (:func:`xzgov.facts.host_parsers.pam_account_stack`) admits such a user when some
sequence of module results ends it in PAM_SUCCESS — or in PAM_NEW_AUTHTOK_REQD, which OpenSSH's ``do_pam_account``
accepts too (it forces a password change, then opens the session). Each module's possible results are what is known
of it for that user — one SSSD serves (not in /etc/passwd), with a uid of at least SSSD's ``min_id``, in none of
the role groups: ``pam_localuser`` fails, ``pam_permit`` succeeds, ``pam_deny`` fails, ``pam_unix`` sets no
password aging for it (no shadow entry), ``pam_succeed_if`` as its conditions say where they can be decided (``user
ingroup`` of role groups only, ``uid`` against ``min_id``; ``use_uid`` judges the calling process, so nothing is
decided), ``pam_sss`` asks for no password change unless SSSD's order has ``pwd_expire_policy_renew``; any other
module may return anything. Every result is followed through its control as Linux-PAM's ``_pam_dispatch_aux``
(libpam/pam_dispatch.c) does for ``pam_acct_mgmt``, whose chain is never cached: an impression (undefined,
positive, negative) and a status; ``ok``/``done`` set them while the impression is undefined or a positive success,
``bad``/``die`` make it negative once, ``reset`` restores the (sub)stack's entry state, a jump only skips modules
(a substack counts as one; a jump past the (sub)stack's end is "bad jump in stack"), ``done`` and ``die`` end the
current (sub)stack; a final success needs a positive impression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xzgov.facts.host_parsers import PAM_RETURN_KEYS

#: what a module can return, by the bracket form's key ("fail": any other failure code, read through every
#: failure key the bracket names, else its default)
_ANYTHING = frozenset({"success", "fail", "user_unknown", "new_authtok_reqd", "ignore"})
_FAILURE_KEYS = tuple(sorted(PAM_RETURN_KEYS - {"success", "new_authtok_reqd", "ignore", "user_unknown", "default"}))
_OPTIONS = {"debug", "quiet", "quiet_fail", "quiet_success", "audit"}
_NUMERIC = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}
#: (impression, status) at the start of a stack: undefined, PAM_MUST_FAIL_CODE
_START = ("undef", "fail")


def _condition(field: str, op: str, value: str, roles: frozenset[str], min_id: int) -> bool | None:
    """One ``pam_succeed_if`` condition for the outsider: True, False, or None (cannot be decided)."""
    if field == "user" and op in ("ingroup", "notingroup"):
        groups = {g for g in value.split(":") if g}
        return (op == "notingroup") if groups and groups <= roles else None
    if field == "uid" and op in _NUMERIC and value.isdigit():
        n, kind = int(value), _NUMERIC[op]  # the outsider's uid lies in [min_id, ∞)
        decided = {"lt": False if min_id >= n else None, "le": False if min_id > n else None,
                   "gt": True if min_id > n else None, "ge": True if min_id >= n else None}
        return decided[kind]
    return None


def succeed_if(args: Sequence[str], roles: frozenset[str], min_id: int) -> bool | None:
    """``pam_succeed_if``'s answer for the outsider (every condition must hold): True, False or None."""
    if "use_uid" in args:  # the conditions are then the calling process's (root in sshd), not the user's
        return None
    words = [w for w in args if w not in _OPTIONS]
    if not words or len(words) % 3:
        return None
    answers = [_condition(words[i], words[i + 1], words[i + 2], roles, min_id) for i in range(0, len(words), 3)]
    if any(answer is False for answer in answers):
        return False
    return True if all(answer is True for answer in answers) else None


def results(entry: Mapping[str, Any], roles: frozenset[str], min_id: int, renewal: bool = True) -> frozenset[str]:
    """What ``entry``'s module may return for the outsider (``renewal``: SSSD may ask for a password change in
    the account phase — ``pwd_expire_policy_renew`` in ``ldap_access_order``)."""
    module = str(entry.get("module", ""))
    if module == "pam_sss.so" and not renewal:
        # sssd's account phase answers new_authtok_reqd for an expired password only under that policy (sssd-ldap(5))
        return _ANYTHING - {"new_authtok_reqd"}
    if module == "pam_permit.so":
        return frozenset({"success"})
    if module in ("pam_deny.so", "pam_localuser.so"):
        return frozenset({"fail"})
    if module == "pam_unix.so":
        # password aging only for a shadowed entry (pw_passwd "x", passverify.c); SSSD gives "*" (sssd.conf(5)
        # pwfield): never new_authtok_reqd for a user SSSD serves
        return frozenset({"success", "fail", "user_unknown"})
    if module == "pam_succeed_if.so":
        answer = succeed_if([str(a) for a in entry.get("args", [])], roles, min_id)
        return frozenset({"success"} if answer else {"fail"} if answer is False else {"success", "fail"})
    return _ANYTHING


def _actions(control: Mapping[str, str], result: str) -> set[str]:
    """The actions ``control`` may take on ``result`` (a return code PAM's bracket form does not name takes the
    ``default``, itself ``bad`` when not given)."""
    default = control.get("default", "bad")
    if result == "fail":
        return {control.get(key, default) for key in _FAILURE_KEYS}
    return {control.get(result, default)}


def _skip(stack: Sequence[Mapping[str, Any]], index: int, count: int) -> int | None:
    """The position after skipping ``count`` modules that follow ``index`` at its level (a substack and its
    modules count as one); ``None`` when the (sub)stack ends first (PAM: "bad jump in stack")."""
    level = int(stack[index].get("level", 0))
    position = index
    while count > 0:
        position += 1
        if position >= len(stack) or int(stack[position].get("level", 0)) < level:
            return None
        while position + 1 < len(stack) and int(stack[position + 1].get("level", 0)) > level:
            position += 1  # a substack's own modules go with its header
        count -= 1
    return position + 1


def _end_of_level(stack: Sequence[Mapping[str, Any]], index: int) -> int:
    """The position after the rest of ``index``'s (sub)stack (``done`` and ``die`` end it)."""
    level = int(stack[index].get("level", 0))
    position = index + 1
    while position < len(stack) and int(stack[position].get("level", 0)) >= level:
        position += 1
    return position


def outsider_way(stack: Sequence[Mapping[str, Any]], roles: frozenset[str], min_id: int,
                 renewal: bool = True) -> list[str]:
    """A way through ``stack`` that admits a directory user outside ``roles`` (the modules it passes, each as
    ``file:module=result``), or [] when there is none. ``renewal``: see :func:`results`."""
    seen: set[tuple[Any, ...]] = set()

    def walk(index: int, impression: str, status: str, saved: tuple[tuple[str, str], ...],
             way: tuple[str, ...]) -> list[str]:
        if index >= len(stack):
            admitted = status == "new_authtok_reqd" or (status == "success" and impression == "positive")
            return list(way) if admitted else []
        entry = stack[index]
        level = int(entry.get("level", 0))
        if index and int(stack[index - 1].get("level", 0)) < level:  # entering a substack: its state, for reset
            saved = (*saved[:level], (impression, status))
        saved = saved[:level + 1]
        key = (index, impression, status, saved)
        if key in seen:
            return []
        seen.add(key)
        if "substack" in entry:  # the header: its modules follow at the next level
            return walk(index + 1, impression, status, saved, way)
        control = entry.get("control") or {}
        for result in sorted(results(entry, roles, min_id, renewal)):
            step = (*way, f"{entry.get('file')}:{entry.get('module')}={result}")
            code = "fail" if result == "user_unknown" else result
            for action in sorted(_actions(control, result)):
                after: tuple[int, str, str] | None = None
                if action in ("ok", "done"):
                    new_impression, new_status = impression, status
                    # (an ignored result too: the account chain is never cached, so PAM_IGNORE becomes the status)
                    if impression == "undef" or (impression == "positive" and status == "success"):
                        new_impression, new_status = "positive", code
                    ends = action == "done" and new_impression == "positive"
                    after = (_end_of_level(stack, index) if ends else index + 1, new_impression, new_status)
                elif action in ("bad", "die"):
                    new_impression, new_status = ("negative", "fail" if result == "ignore" else code) \
                        if impression != "negative" else (impression, status)
                    after = (_end_of_level(stack, index) if action == "die" else index + 1, new_impression,
                             new_status)
                elif action == "ignore":
                    after = (index + 1, impression, status)
                elif action == "reset":
                    after = (index + 1, *saved[level])
                elif action.isdigit():
                    target = _skip(stack, index, int(action))
                    after = (index + 1, "negative", "fail") if target is None else (target, impression, status)
                if after is None:  # an action PAM does not know: the line was refused at parsing
                    continue
                found = walk(after[0], after[1], after[2], saved, step)
                if found:
                    return found
        return []

    return walk(0, *_START, (_START,), ())
