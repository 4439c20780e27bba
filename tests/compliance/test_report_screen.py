"""The compiled screen and jsonschema agree on every report format (``compliance.reports.validate.problems``).

A large report is screened first (fastjsonschema, 8-12x faster): a document the screen accepts is taken as
valid without jsonschema. That is only sound if the screen never accepts what jsonschema refuses — on the
report schema (2020-12, ``prefixItems`` given to the screen in draft 7's form), the vendored SARIF schema and
the whole OSCAL model (Unicode ``\\p{L}`` patterns). Random edits of real reports of each format must get the
same verdict from both, and a refused one a located problem either way.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from compliance.reports import ReportFormat, render, validate
from compliance.scanner import ScanOptions, scan

from .conftest import FIXTURE
from .report_support import mutate

SCHEMAS = {ReportFormat.json: validate.REPORT_SCHEMA, ReportFormat.sarif: validate.SARIF_SCHEMA,
           ReportFormat.oscal: validate.OSCAL_SCHEMA}


@pytest.fixture(scope="module")
def documents() -> dict[ReportFormat, Any]:
    result = scan(ScanOptions(root=FIXTURE))
    documents = {fmt: render(result, fmt)[1] for fmt in SCHEMAS}
    documents[ReportFormat.json]["systems"] = documents[ReportFormat.json]["systems"][:3]  # many edits, quick
    return documents


def _verdicts(name: str, document: Any) -> tuple[bool, bool]:
    """(the screen accepts, jsonschema accepts)."""
    screened = validate.screened(name, document) is None
    return screened, not validate._explained(name, document, 1)


@pytest.mark.parametrize("fmt", list(SCHEMAS), ids=str)
def test_the_screen_and_jsonschema_agree_on_edited_reports(documents: dict[ReportFormat, Any],
                                                           fmt: ReportFormat) -> None:
    name, base = SCHEMAS[fmt], documents[fmt]
    assert _verdicts(name, base) == (True, True)
    rng = random.Random(f"screen-{fmt}")
    refused = disagreements = 0
    for attempt in range(80 if fmt is ReportFormat.json else 150):  # (jsonschema reads the JSON report slowly)
        document = mutate(copy.deepcopy(base), rng)
        screened, explained = _verdicts(name, document)
        refused += not explained
        if screened != explained:
            disagreements += 1
            rejection = validate.screened(name, document)
            pytest.fail(f"{fmt} attempt {attempt}: screen {'accepts' if screened else 'refuses'} "
                        f"({rejection}), jsonschema {'accepts' if explained else 'refuses'} "
                        f"({validate._explained(name, document, 1)}): "
                        f"{json.dumps(document, ensure_ascii=False)[:1500]}")
        if not explained and attempt % 8 == 0:  # refused: a located problem whichever path finds it, any size
            assert validate.problems(name, document, 1) and validate.problems(name, document, 1, size=0)
    assert refused > 20 and not disagreements  # the edits do break reports (this test is not vacuous)


def test_a_screened_problem_names_the_field(documents: dict[ReportFormat, Any]) -> None:
    report = copy.deepcopy(documents[ReportFormat.json])
    report["systems"][0]["states"] = 7
    [(where, message)] = validate.problems(validate.REPORT_SCHEMA, report, limit=1)
    assert where == "systems[0].states" and "string" in message


def test_a_rejection_jsonschema_does_not_confirm_is_still_refused(documents: dict[ReportFormat, Any],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Never accepted on the explainer's word: a document the screen refuses is refused at the field it names."""
    report = copy.deepcopy(documents[ReportFormat.json])
    report["systems"][0]["states"] = 7
    monkeypatch.setattr(validate, "_explained", lambda *args: [])
    [(where, message)] = validate.problems(validate.REPORT_SCHEMA, report)
    assert where == "systems[0].states" and "schema rule 'type'" in message
