"""密评 (GB/T 39786) derivation: D/A/K per test object from the manifest's crypto facts, and the score card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from compliance.catalogue import Catalogue, CryptoUnit
from compliance.results import Finding, ItemOutcome, ItemState, ScoreCard, settled_verdict
from compliance.scan.context import ScanContext
from compliance.scan.items import resolve
from compliance.scoring import CryptoObjectResult, ManagementUnitResult, ScoringError, score_miping
from policies.engine import Facts, Severity, Status
from policies.registry import RULES_BY_ID
from xzgov.core import model as m
from xzgov.facts.baseline import (
    APPROVED_ALGORITHMS,
    LOGIN_UNIT,
    UNIT_PURPOSE,
    crypto_not_applicable,
    keys_certified,
    login_without_cryptography,
)
from xzgov.facts.thresholds import threshold

#: Security strength (bits) of algorithms that are not 国密, for the 2023 密评 Ra factor.
ALGORITHM_BITS: Mapping[str, int] = {
    "RSA": 112, "ECDSA": 128, "ECDH": 128, "AES": 128, "3DES": 80, "DES": 56, "SHA-1": 63, "SHA-256": 128,
    "MD5": 18, "HMAC-SHA256": 128, "TLS1.2": 112, "TLS1.3": 128,
}


def required_technical(catalogue: Catalogue, crypto_level: int) -> tuple[tuple[CryptoUnit, str, tuple[str, str]], ...]:
    """(unit, strength, declared (aspect, purpose)) of each technical unit with a declared purpose that
    ``crypto_level`` requires, in catalogue order."""
    found = []
    for unit in catalogue.crypto_units:
        if unit.kind != "technical" or unit.id not in UNIT_PURPOSE:
            continue
        strength = unit.strength(crypto_level)
        if strength != "不要求":
            found.append((unit, strength, UNIT_PURPOSE[unit.id]))
    return tuple(found)


#: :class:`CryptoObjectResult`'s positional fields up to ``module_level_met``: (unit id, object name, d, a, k,
#: algorithm strength bits, rk, high risk, module level met). Plain tuples: the score card is memoised on
#: them, and a tuple hashes and compares in C (each system's objects are looked up once).
ObjectArgs = tuple[str, str, bool | None, bool | None, bool | None, int | None, None, bool, bool | None]


def not_applicable_units(facts: Facts, plan: Sequence[tuple[CryptoUnit, str, tuple[str, str]]],
                         items: Sequence[ItemOutcome] = ()) -> frozenset[str]:
    """The technical units of ``plan`` that drop out of the 密评 score: undeclared 可 units and 宜 units the plan
    exempts (:func:`xzgov.facts.baseline.crypto_not_applicable`, the rule the units' item states follow), and
    units an attestation records as 不适用 (``items``: the system's outcomes)."""
    dropped = set(crypto_not_applicable(((unit.id, strength, purpose) for unit, strength, purpose in plan),
                                        facts["crypto_mechanisms"], facts.get("crypto_exemptions") or ()))
    technical = {unit.id for unit, _, _ in plan}
    dropped.update(o.item_id for o in items if o.attestation and not o.rules and o.item_id in technical
                   and o.score_status == "不适用")
    return frozenset(dropped)


def crypto_objects(facts: Facts, catalogue: Catalogue, crypto_level: int, min_module_level: int,
                   plan: Sequence[tuple[CryptoUnit, str, tuple[str, str]]] | None = None,
                   not_applicable: frozenset[str] | None = None) -> list[ObjectArgs]:
    """D/A/K per test object (declared mechanism) of each technical unit required at ``crypto_level``, as
    :data:`ObjectArgs` (``CryptoObjectResult(*args)`` is the object).

    D: the unit uses cryptography at all (a mechanism is declared); A: every algorithm is approved (Ra
    by :data:`ALGORITHM_BITS` otherwise; an application identity mechanism no login uses fails D:
    :func:`xzgov.facts.baseline.login_without_cryptography`); K: keys live in a declared certified product whose
    GM/T 0028 module level meets the minimum. A required unit without a mechanism is one object with D failed
    (a 应 unit so judged is a high-risk finding), unless it is not applicable (``not_applicable``, by default
    :func:`not_applicable_units` of the facts): such a unit has no object and drops out of the score.
    ``module_level_met`` lets the 2023 rule apply Rk (1.2 at level 3, 1.5 at level 4) when K fails although the
    product's module level meets the minimum."""
    plan = plan if plan is not None else required_technical(catalogue, crypto_level)
    dropped = not_applicable if not_applicable is not None else not_applicable_units(facts, plan)
    products = {p["id"]: p for p in facts["crypto_products"]}
    by_purpose: dict[tuple[str, str], list[Any]] = {}  # declared order kept per purpose
    for mech in facts["crypto_mechanisms"]:
        by_purpose.setdefault((mech["aspect"], mech["purpose"]), []).append(mech)
    objects: list[ObjectArgs] = []
    for unit, strength, purpose in plan:
        if unit.id in dropped:
            continue
        mechanisms: list[Any] = by_purpose.get(purpose, [])
        if not mechanisms:
            objects.append((unit.id, "未实施 (no mechanism)", False, None, None, None, None, strength == "应", None))
            continue
        if purpose == LOGIN_UNIT and login_without_cryptography(facts.get("authentication")) is not None:
            # the declared SM2 login is not what anyone logs in with: cryptography not used (D)
            objects.append((unit.id, "声明的身份鉴别机制未用于登录 (no cryptographic login factor)", False, None, None,
                            None, None, strength == "应", None))
            continue
        for index, mech in enumerate(mechanisms):
            algorithms = set(mech["algorithms"])
            weak = algorithms - APPROVED_ALGORITHMS
            product = products.get(mech.get("product") or "")
            module_met = product is not None and int(product.get("module_level", 0)) >= min_module_level
            k_ok = keys_certified(mech, products, min_module_level)
            bits = min(ALGORITHM_BITS.get(a, 0) for a in weak) if weak else None
            name = f"{'+'.join(sorted(algorithms))}{'@' + str(mech.get('product')) if mech.get('product') else ''}"
            objects.append((unit.id, f"{index + 1}:{name}", True, not weak, k_ok, bits, None, False, module_met))
    return objects


def miping_card(ctx: ScanContext, system: m.System, facts: Facts | None, items: Sequence[ItemOutcome],
                findings: Sequence[Finding] = ()) -> ScoreCard:
    """The 密评 score card (memoised): D/A/K of the test objects from the manifest facts, plus a test object of
    each rule failure the declared mechanisms do not show (:func:`rule_objects`); management units from their
    outcomes, whoever decided them (a rule, as XZ-MAN-CRYPTO-LEVEL and XZ-MAN-MIPING-ASSESSMENT do, or an
    attestation); not-applicable technical units (:func:`not_applicable_units`, the set the item states
    follow) left out of the score. A waived unit's failure is scored but is no unmitigated high risk.
    ``items``: the system's outcomes in row order; ``findings``: its findings."""
    if facts is None or "crypto_mechanisms" not in facts:
        return ScoreCard("密评", None, None, None, (0.0, 0.0), False, (), (), "no manifest facts")
    minimum = int(threshold(ctx.thresholds, "min_module_level")[system.crypto_level])
    plan = ctx.crypto_plan.get(system.crypto_level)
    if plan is None:
        plan = ctx.crypto_plan[system.crypto_level] = required_technical(ctx.catalogue, system.crypto_level)
    management_at, technical_at = unit_positions(ctx, system, items)
    technical = [items[i] for i in technical_at]
    # only an attestation record attests an item: without any, no outcome names one
    dropped = not_applicable_units(facts, plan, technical if ctx.records.attestations else ())
    objects = crypto_objects(facts, ctx.catalogue, system.crypto_level, minimum, plan, dropped)
    objects += rule_objects(ctx, system, technical, findings, dropped,
                            frozenset(o[0] for o in objects if o[3] is False))
    if ctx.records.attestations:  # the assessor's signed result of a unit outranks what the manifest shows
        attested = attested_objects(technical)
        if attested:
            # also of a unit the scheme leaves out (an undeclared 可 unit): the item reads 不符合, the unit scores
            replaced = {o[0] for o in attested}
            objects = [o for o in objects if o[0] not in replaced] + attested
            dropped = dropped - replaced
    # only a waiver record waives an item (compliance.scan.items): without any, nothing is waived
    waived = {o.item_id for o in technical if o.state is ItemState.WAIVED} if ctx.records.waivers else set()
    if waived:  # a waived unit's failure is not an unmitigated high risk
        objects = [(*o[:7], o[7] and o[0] not in waived, o[8]) for o in objects]
    # (unit id, status, high risk): ManagementUnitResult's fields, as plain tuples (the memo's key; the results are
    # built when a card is scored)
    management: list[tuple[str, str, bool]] = []
    for position in management_at:
        outcome = items[position]
        status = outcome.score_status
        if status in ("符合", "部分符合", "不符合", "不适用"):
            # an assessor's signed judgement that a failed unit is a high risk (high_risk: true on its row) vetoes,
            # as the scorer defines it — a waiver (unsigned) does not reverse it (docs/compliance.md)
            judged = outcome.trail is not None and outcome.trail.get("high_risk") is True \
                and status in ("不符合", "部分符合")
            management.append((outcome.item_id, status, judged))
    key = (system.crypto_level, tuple(objects), tuple(management), tuple(sorted(dropped)))
    card = ctx.miping_cards.get(key)  # one lookup: a key of tuples is hashed again at each
    if card is None:
        card = ctx.miping_cards[key] = _score(
            ctx, system.crypto_level, [CryptoObjectResult(*o) for o in objects],
            [ManagementUnitResult(*m) for m in management], key[3])  # type: ignore[arg-type]
    return card


def unit_positions(ctx: ScanContext, system: m.System, items: Sequence[ItemOutcome]
                   ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The positions of the GB/T 39786 management units and of the technical units in a system's outcomes. A
    system's outcomes are the row of its levels, so the positions found for one system of those levels serve
    the next, once checked (any other list of outcomes is searched)."""
    key = (system.level, system.crypto_level)
    known = ctx.crypto_positions.get(key)
    if known is not None:
        management, technical, ids = known
        units = management + technical
        if len(items) == len(ids[0]) and all(items[p].item_id == i for p, i in zip(units, ids[1], strict=True)):
            return management, technical
    found: tuple[list[int], list[int]] = ([], [])
    for position, outcome in enumerate(items):
        unit = ctx.catalogue.get(outcome.item_id)
        if isinstance(unit, CryptoUnit):
            found[unit.kind != "management"].append(position)
    management, technical = tuple(found[0]), tuple(found[1])
    ids = (tuple(o.item_id for o in items), tuple(items[p].item_id for p in management + technical))
    ctx.crypto_positions[key] = (management, technical, ids)
    return management, technical


#: The facts the test objects of :func:`crypto_objects` come from: a rule that reads only these judges the
#: declared mechanisms, which the objects already score (XZ-MAN-CRYPTO-ALGORITHMS, XZ-MAN-CRYPTO-WEAK). A rule
#: that reads anything else judges objects of its own: a data store, a data set, an image, a live host.
MECHANISM_FACTS = frozenset({"classification", "crypto_mechanisms", "crypto_requirements", "crypto_exemptions",
                             "crypto_products", "as_of", "authentication"})


def rule_objects(ctx: ScanContext, system: m.System, technical: Sequence[ItemOutcome], findings: Sequence[Finding],
                 dropped: frozenset[str], weak: frozenset[str] = frozenset()) -> list[ObjectArgs]:
    """A test object for each rule that judged a required technical unit short from facts beyond the declared
    mechanisms (:data:`MECHANISM_FACTS`): failed — a data store outside every declared data set, a data set
    stored in plain, an unverified image signature — is an object with D failed (cryptography not shown to be
    used), a high risk at a 应 unit when the rule is of severity ≥ high and its finding unwaived; partial —
    cryptography used, not an approved algorithm (a data set encrypted with AES) — is an object with A failed
    (its strength unknown here: Ra of an unknown strength), unless a declared mechanism of the unit already fails A
    (``weak``: the same shortfall, counted once). Before, such a failure left the unit's score at its
    mechanisms' 1.0; and a data set encrypted with AES counted as no cryptography at all, with a veto."""
    objects: list[ObjectArgs] = []
    for outcome in technical:
        if outcome.item_id in dropped or not outcome.rules or outcome.underlying not in _FAILED:
            continue
        for rule_id in outcome.rules:
            rule = RULES_BY_ID[rule_id]
            if MECHANISM_FACTS.issuperset(rule.facts):
                continue
            projected = [p for p, item_id in resolve(ctx, rule, system.level, system.crypto_level)
                         if item_id == outcome.item_id]
            for finding in findings:
                result = finding.result
                if result.rule_id != rule_id or not projected:
                    continue
                said = result.status_of(projected[0])
                name = f"{rule_id}: {result.message_of(projected[0])}"[:120]
                if said is Status.PARTIAL:  # cryptography in use, not approved: A, once per unit
                    if outcome.item_id not in weak:
                        objects.append((outcome.item_id, name, True, False, None, None, None, False, None))
                    continue
                if said is not Status.FAIL:
                    continue
                veto = outcome.strength == "应" and rule.severity >= Severity.HIGH and finding.waiver is None
                objects.append((outcome.item_id, name, False, None, None, None, None, veto, None))
    return objects


_FAILED = (ItemState.FAIL, ItemState.PARTIAL)


def attested_objects(technical: Sequence[ItemOutcome]) -> list[ObjectArgs]:
    """The test object of each technical unit an assessor's signed row finds short (不符合 or 部分符合): the
    item's state is the row's (the on-site result outranks the rules', ``compliance.scan.items``), and so is the
    unit's score — before, the item read 不符合 while the card scored the declared mechanisms' 1. 不符合:
    cryptography not effectively used, D failed (0); 部分符合: used with a shortfall the row does not locate,
    scored as 0.5 (K failed at Rk 1, as a 部分符合 management unit scores). The object replaces the unit's
    declared ones, and brings a unit the scheme left out (an undeclared 可 unit) back into the score. A high risk
    when the row says so (``high_risk: true``) and no waiver covers the unit, as for a management unit."""
    objects: list[ObjectArgs] = []
    for outcome in technical:
        if outcome.attestation is None or outcome.rules or outcome.underlying not in _FAILED:
            continue
        judged = outcome.trail is not None and outcome.trail.get("high_risk") is True \
            and outcome.state is not ItemState.WAIVED
        if outcome.underlying is ItemState.FAIL:
            objects.append((outcome.item_id, f"现场核查 不符合 ({outcome.attestation})", False, None, None, None, None,
                            judged, None))
        else:
            objects.append((outcome.item_id, f"现场核查 部分符合, 按 0.5 计 ({outcome.attestation})", True, True, False,
                            None, None, judged, None))
    return objects


def _score(ctx: ScanContext, level: int, objects: list[CryptoObjectResult],
           management: list[ManagementUnitResult], not_applicable: Sequence[str]) -> ScoreCard:
    try:
        scored = score_miping(ctx.catalogue, level, ctx.scoring.miping, objects=objects,
                              management=management, not_applicable=not_applicable)
    except ScoringError as error:
        return ScoreCard("密评", None, None, None, (0.0, 0.0), False, (), (), str(error))
    return ScoreCard("密评", settled_verdict(scored.conclusion, scored.conclusion_range), scored.conclusion_range,
                     scored.score, scored.score_range,
                     scored.final, scored.high_risk_units,
                     tuple((s.label, s.formula, str(s.value)) for s in scored.steps))
