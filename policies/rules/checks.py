"""The shape most rules share: judge several sub-checks, each naming the items it decides, collect their
evidence, then answer pass / partial / fail with per-item statuses.

::

    judged = SubChecks(facts)
    judged.check(f"{G22239}:{{L}}.1.4.2.c", not shared, f"shared accounts: {shared}", "administration", "accounts")
    judged.skip(f"{G22239}:{{L}}.1.3.4.b", "no mail service", "boundary")
    return judged.outcome("账户管理符合 / accounts in order", "账户管理不符合 / accounts not in order")

Items that do not exist at the subject's levels (a level-3 item on a level-2 system) are left out, and a
sub-check whose items are all left out is not recorded. An item is ``fail`` when any sub-check naming it
failed, ``partial`` when none failed and one was met only in part (:meth:`SubChecks.partly`: cryptography in
use, but not an approved algorithm), ``pass`` when at least one passed and none failed or was partial,
``not-applicable`` when it was only skipped. An item a sub-check found nothing to judge of
(:meth:`SubChecks.nothing_to_judge`: the question does not arise, the item still applies) and none judged is left
out of the result: it stays 未测. The rule is ``fail`` when every judged item failed, ``partial`` when
some failed or were partial and not all failed, ``pass`` when none failed or was partial, ``not-applicable`` when
nothing was judged.
"""

from __future__ import annotations

from collections.abc import Sequence

from policies.engine import Evidence, Facts, Outcome, Status, levels_of, outcome_of, project_control
from xzgov.core.clock import days_between

_new = object.__new__

#: (等保 level, 密评 level) → template → whether the item exists there: :func:`project_control` is pure, and
#: every sub-check of every rule on every system asks.
_EXISTS: dict[tuple[int, int | None], dict[str, bool]] = {}

# (an enum member read through its class costs a lookup each time)
_PASS, _FAIL, _PARTIAL, _NOT_APPLICABLE = Status.PASS, Status.FAIL, Status.PARTIAL, Status.NOT_APPLICABLE
_SHORT = (_FAIL, _PARTIAL)  #: what a passing sub-check does not lift


class SubChecks:
    """Accumulates the sub-checks of one rule on one subject (see the module docstring).

    A plain class with slots rather than a dataclass: a scan of 10,000 systems builds 180,000 of them and
    records 800,000 sub-checks, and the dataclass's generated ``__init__`` and default factories were a
    measurable part of each rule."""

    __slots__ = ("_exists", "_levels", "_locate", "about", "facts", "good", "per", "problems", "silent", "skipped")

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.per: dict[str, Status] = {}
        self.problems: list[Evidence] = []
        self.good: list[Evidence] = []
        self.skipped: list[Evidence] = []
        #: per item (template), the evidence of the sub-checks and skips that named it: what the item shows
        self.about: dict[str, list[Evidence]] = {}
        #: items (templates) a sub-check found nothing to judge of (:meth:`nothing_to_judge`); built when one does
        self.silent: set[str] | None = None
        level, crypto = levels_of(facts)
        #: (template -> exists) for the subject's levels; ``None`` when the level is unknown (all exist)
        self._exists: dict[str, bool] | None = None if level is None else _EXISTS.setdefault((level, crypto), {})
        self._levels = level, crypto
        #: the facts' own whole-walk locator (``Facts.evidence`` asks for it on every piece): looked up once
        self._locate = getattr(facts.locations, "locate", None)

    def exists(self, control: str) -> bool:
        """True when the item ``control`` (a template) exists at the subject's levels (or they are unknown)."""
        table = self._exists
        if table is None:
            return True
        found = table.get(control)
        if found is None:
            found = table[control] = project_control(control, *self._levels) is not None
        return found

    def _evidence(self, observed: str, key: str, sub: tuple[str | int, ...]) -> Evidence:
        """``self.facts.evidence(observed, key, *sub)``, through the locator looked up once (:meth:`check` inlines
        it for its common case)."""
        locate = self._locate
        if locate is None:
            return self.facts.evidence(observed, key, *sub)
        facts = self.facts
        evidence: Evidence = _new(Evidence)
        fields = evidence.__dict__
        fields["observed"] = observed
        fields["location"] = locate(key, sub) or facts.target or facts.subject
        fields["at"] = facts.gathered_at
        return evidence

    def check(self, controls: str | Sequence[str], ok: bool, observed: str, key: str, *sub: str | int) -> bool:
        """Record one sub-check of ``controls`` (a template or several), located at ``key``/``sub``."""
        per = self.per
        if isinstance(controls, str):  # the common case, one item: no list of present items to build
            table = self._exists  # exists(), inlined for the known answers
            if table is not None and not (table.get(controls) or self.exists(controls)):
                return ok
            locate = self._locate
            if locate is None:
                evidence = self.facts.evidence(observed, key, *sub)
            else:  # Facts.evidence, inlined (every sub-check of every rule on every system builds one)
                facts = self.facts
                evidence = _new(Evidence)
                fields = evidence.__dict__
                fields["observed"] = observed
                fields["location"] = locate(key, sub) or facts.target or facts.subject
                fields["at"] = facts.gathered_at
            if ok:
                if per.get(controls) not in _SHORT:
                    per[controls] = _PASS
                self.good.append(evidence)
            else:
                per[controls] = _FAIL
                self.problems.append(evidence)
            own = self.about.get(controls)
            if own is None:
                self.about[controls] = [evidence]
            else:
                own.append(evidence)
            return ok
        present = [c for c in controls if self.exists(c)]
        if not present:
            return ok
        evidence = self._evidence(observed, key, sub)
        if ok:
            for control in present:
                if per.get(control) not in _SHORT:
                    per[control] = _PASS
            self.good.append(evidence)
        else:
            for control in present:
                per[control] = _FAIL
            self.problems.append(evidence)
        for control in present:
            self.about.setdefault(control, []).append(evidence)
        return ok

    def partly(self, controls: str | Sequence[str], observed: str, key: str, *sub: str | int) -> None:
        """Record a sub-check of ``controls`` met only in part — the requirement's measure is there but not as the
        standard asks it (data encrypted, but not with an approved algorithm): the item is ``partial`` unless
        another sub-check failed it. Not a failure of the kind a high-risk case describes (重要数据明文存储 is
        plaintext, not AES): an item's high-risk grade is a failure (``compliance.scan.items``)."""
        present = [c for c in ((controls,) if isinstance(controls, str) else controls) if self.exists(c)]
        if not present:
            return
        evidence = self._evidence(observed, key, sub)
        for control in present:
            if self.per.get(control) is not _FAIL:
                self.per[control] = _PARTIAL
            self.about.setdefault(control, []).append(evidence)
        self.problems.append(evidence)

    def skip(self, controls: str | Sequence[str], reason: str, key: str, *sub: str | int) -> None:
        """``controls`` do not apply here (unless another sub-check judged them)."""
        evidence = self._evidence(reason, key, sub)
        for control in (controls,) if isinstance(controls, str) else controls:
            self.per.setdefault(control, Status.NOT_APPLICABLE)
            self.about.setdefault(control, []).append(evidence)
        self.skipped.append(evidence)

    def nothing_to_judge(self, controls: str | Sequence[str], reason: str, key: str, *sub: str | int) -> None:
        """``controls`` still apply, but this rule's question does not arise here (no external account to check
        the end date of): unless another sub-check judged them, the result says nothing of them and their items
        stay 未测 (:attr:`policies.engine.Outcome.silent`)."""
        self.skipped.append(self._evidence(reason, key, sub))
        if self.silent is None:
            self.silent = set()
        self.silent.update((controls,) if isinstance(controls, str) else controls)

    def outcome(self, ok_message: str, fail_message: str) -> Outcome:
        judged = [status for status in self.per.values() if status is not _NOT_APPLICABLE]
        silent = frozenset(c for c in self.silent if c not in self.per) if self.silent else frozenset()
        if not judged:
            return outcome_of(_NOT_APPLICABLE, ok_message, tuple(self.skipped), dict(self.per), self._about(),
                              silent)
        if _FAIL not in judged and _PARTIAL not in judged:
            return outcome_of(_PASS, ok_message, tuple(self.good + self.skipped), dict(self.per), self._about(),
                              silent)
        status = _FAIL if all(judgement is _FAIL for judgement in judged) else _PARTIAL
        # the problems first; then what passed and why items did not apply (their items' own pieces)
        return outcome_of(status, fail_message, tuple(self.problems + self.good + self.skipped), dict(self.per),
                          self._about(failed=True), silent)

    def _about(self, failed: bool = False) -> dict[str, tuple[Evidence, ...]]:
        """Each item's own pieces (:attr:`Outcome.per_control_evidence`): a failed or partial item's problems only
        (what passed for it does not say why it fell short, and its note is made of them), any other item's
        pieces."""
        if not failed:
            return {control: tuple(own) for control, own in self.about.items()}
        problems = {id(piece) for piece in self.problems}
        return {control: tuple(piece for piece in own if id(piece) in problems) if self.per.get(control) in _SHORT
                else tuple(own) for control, own in self.about.items()}


def within(earlier: str | None, as_of: str, limit: int) -> bool:
    """True when ``earlier`` is a date at most ``limit`` days before ``as_of`` (and not in its future)."""
    age = days_between(earlier, as_of)
    return age is not None and 0 <= age <= limit


def periodic(judged: SubChecks, controls: str | Sequence[str], what: str, cadence: int | None, last: str | None,
             as_of: str, limit: int, key: str, cadence_at: str, last_at: str) -> None:
    """A recurring duty: its declared ``cadence`` (days) is at most ``limit``; when the ``last`` run is recorded,
    it is no older than ``limit`` days on ``as_of`` (an undeclared cadence fails; an unrecorded run is not held
    against a declared cadence, since a manifest is a standing declaration, but a recorded stale run is)."""
    judged.check(controls, cadence is not None and int(cadence) <= limit,
                 f"{what}: cadence {cadence if cadence is not None else 'undeclared'} d (≤ {limit})", key, cadence_at)
    if last is not None:
        judged.check(controls, within(last, as_of, limit), f"{what}: last {last} (≤ {limit} d before {as_of})",
                     key, last_at)
