"""Ways through a PAM account stack (pam.conf(5)) for a directory user outside the administrator role groups.

The account stack sshd runs (:func:`xzgov.facts.host_parsers.pam_account_stack`) admits such a user when some
sequence of module results ends the stack in success. Each module's possible results are what is known of it for
that user — a user SSSD serves (not in /etc/passwd), with a uid of at least SSSD's ``min_id``, in none of the
role groups: ``pam_localuser`` fails, ``pam_permit`` succeeds, ``pam_deny`` fails, ``pam_succeed_if`` as its
conditions say where they can be decided (``user ingroup`` of role groups only, ``uid`` against ``min_id``);
any other module may return anything. Every result is followed through the control (``required`` … or the
bracket form: ``ok``, ``bad``, ``die``, ``done``, ``ignore``, ``reset``, a jump), as Linux-PAM's
``_pam_dispatch_aux`` does: a stack ends in success when some module set success and none a failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: what a module can return, as the bracket form's keys name it ("fail": any failure code, read through the
#: failure keys a bracket names, else its default)
_ANYTHING = frozenset({"success", "fail", "user_unknown", "new_authtok_reqd", "ignore"})
_FAILURE_KEYS = ("auth_err", "perm_denied", "acct_expired", "authinfo_unavail", "user_unknown", "system_err",
                 "service_err", "cred_insufficient", "maxtries", "abort", "bad_item", "buf_err", "conv_err")
_OPTIONS = {"debug", "use_uid", "quiet", "quiet_fail", "quiet_success", "audit"}
_NUMERIC = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "eq": "eq", "ne": "ne", "=": "eq", "!=": "ne",
            "lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}


def _condition(field: str, op: str, value: str, roles: frozenset[str], min_id: int) -> bool | None:
    """One ``pam_succeed_if`` condition for the outsider: True, False, or None (cannot be decided)."""
    if field == "user" and op in ("ingroup", "notingroup"):
        groups = {g for g in value.split(":") if g}
        if groups and groups <= roles:
            return op == "notingroup"
        return None
    if field == "uid" and op in _NUMERIC and value.lstrip("-").isdigit():
        n, kind = int(value), _NUMERIC[op]
        # the outsider's uid lies in [min_id, ∞)
        decided = {"lt": False if min_id >= n else None, "le": False if min_id > n else None,
                   "gt": True if min_id > n else None, "ge": True if min_id >= n else None}
        return decided.get(kind)
    return None


def succeed_if(args: Sequence[str], roles: frozenset[str], min_id: int) -> bool | None:
    """``pam_succeed_if``'s answer for the outsider (its conditions are all required): True, False or None."""
    words = [w for w in args if w not in _OPTIONS]
    answers = [_condition(words[i], words[i + 1], words[i + 2], roles, min_id) for i in range(0, len(words) - 2, 3)]
    if len(words) % 3 or not answers:
        return None
    if any(answer is False for answer in answers):
        return False
    return True if all(answer is True for answer in answers) else None


def results(entry: Mapping[str, Any], roles: frozenset[str], min_id: int) -> frozenset[str]:
    """What ``entry``'s module may return for the outsider."""
    module = str(entry.get("module", ""))
    if module == "pam_permit.so":
        return frozenset({"success"})
    if module in ("pam_deny.so", "pam_localuser.so"):
        return frozenset({"fail"})
    if module == "pam_succeed_if.so":
        answer = succeed_if([str(a) for a in entry.get("args", [])], roles, min_id)
        return frozenset({"success"} if answer else {"fail"} if answer is False else {"success", "fail"})
    return _ANYTHING


def _actions(control: Mapping[str, str], result: str) -> set[str]:
    default = control.get("default", "ignore")
    if result == "fail":
        return {control.get(key, default) for key in _FAILURE_KEYS}
    return {control.get(result, default)}


def outsider_way(stack: Sequence[Mapping[str, Any]], roles: frozenset[str], min_id: int) -> list[str]:
    """A way through ``stack`` that admits a directory user outside ``roles`` (the modules it passes, each as
    ``file:module=result``), or [] when there is none."""
    seen: set[tuple[int, bool, bool]] = set()

    def walk(index: int, failed: bool, succeeded: bool, way: tuple[str, ...]) -> list[str]:
        if index >= len(stack):
            return list(way) if succeeded and not failed else []
        if (index, failed, succeeded) in seen:
            return []
        seen.add((index, failed, succeeded))
        entry = stack[index]
        control = entry.get("control") or {}
        for result in sorted(results(entry, roles, min_id)):
            step = (*way, f"{entry.get('file')}:{entry.get('module')}={result}")
            for action in sorted(_actions(control, result)):
                # `ok` (and `done`, a jump): the result counts towards the stack's, a failure over a success. A
                # stack ending in new_authtok_reqd admits no login (sshd then allows a password change only).
                passed = result == "success"
                ok_failed = failed or (not passed and result != "ignore")
                ok_succeeded = succeeded or (passed and not failed)
                if action == "ignore":
                    found = walk(index + 1, failed, succeeded, step)
                elif action == "ok":
                    found = walk(index + 1, ok_failed, ok_succeeded, step)
                elif action == "bad":
                    found = walk(index + 1, True, succeeded, step)
                elif action == "done":
                    found = list(step) if ok_succeeded and not ok_failed else []
                elif action == "reset":
                    found = walk(index + 1, False, False, step)
                elif action.isdigit():
                    found = walk(index + 1 + int(action), ok_failed, ok_succeeded, step)
                else:  # die, or an action PAM does not know (the line is refused and the stack fails)
                    found = []
                if found:
                    return found
        return []

    return walk(0, False, False, ())
