"""Benchmark the report set's size: bytes per system, in total and per file type, before → after.

For the example region (``region.yaml`` + ``systems/``, 39 systems) and a synthetic register
(``bench.synthetic.build_region_register``: the examples grown to 2,000 systems by default with perturbed copies
of every manifest, so departments, levels and outcomes vary as a region's do) the scan runs once (not
measured), then the whole default report set is rendered, validated and **signed** (``publish_reports`` with
a fresh SM2 key, as ``xzgov scan --out DIR --key K`` writes it) twice:

* **before**: with ``compliance/reports`` (and ``compliance/kpi_html.py``, the KPI page) as committed at
  ``--before`` (default ``HEAD``), taken from git and loaded in place of the working tree's for that run only;
* **after**: with the working tree's ``compliance/reports``.

Prints per file type (JSON, SARIF, JUnit, OSCAL, Markdown, HTML summary, HTML pages, bundle) the bytes per
system before and after, the JSON report's bytes per system by key, the total KiB per system with the
ratio before / after and the target (≤ 30 KiB per system), the HTML summary page weight and the largest
system page, and the render times.
With ``--browser``, headless Chromium (``tests/report_browser/cdp.py``) opens the synthetic register's
summary page from disk and the first render, DOMContentLoaded and load event times, a filter change and
opening a system page are printed.

    .venv/bin/python bench/bench_reports.py [--systems 2000] [--before HEAD | --no-before] [--skip-example]
                                            [--browser]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synthetic import build_region_register  # noqa: E402
from compliance.results import ScanResult  # noqa: E402
from compliance.scanner import ScanOptions, scan  # noqa: E402
from xzgov.crypto.sm2 import SM2PrivateKey  # noqa: E402

TARGET_KIB = 30.0
KINDS = ("json", "sarif", "junit", "oscal", "markdown", "html summary", "html pages", "bundle")


def _kind(path: Path, out: Path) -> str:
    relative = path.relative_to(out)
    if len(relative.parts) > 1:
        return "html pages"
    return {"compliance-report.json": "json", "compliance.sarif": "sarif", "junit.xml": "junit",
            "oscal-assessment-results.json": "oscal", "summary.md": "markdown", "report.html": "html summary",
            "xzgov-bundle.json": "bundle"}.get(path.name, path.name)


#: Modules the report renderers are made of besides ``compliance.reports`` (the KPI page), taken from the
#: same revision for the "before" run.
RENDER_MODULES = ("kpi_html",)


def _owned(name: str) -> bool:
    return name == "compliance.reports" or name.startswith("compliance.reports.") or \
        name in {f"compliance.{module}" for module in RENDER_MODULES}


@contextmanager
def reports_package(source: Path | None) -> Iterator[ModuleType]:
    """``compliance.reports`` (with :data:`RENDER_MODULES` beside it) from ``source`` (a copy of the
    package's directory) or the working tree's, installed in ``sys.modules`` for the duration (the previous
    modules are put back after)."""
    saved = {name: module for name, module in sys.modules.items() if _owned(name)}
    if source is None:
        import compliance.reports as current
        yield current
        return
    for name in saved:
        del sys.modules[name]
    try:
        for extra in RENDER_MODULES:
            path = source.parent / f"{extra}.py"
            if path.is_file():
                extra_spec = importlib.util.spec_from_file_location(f"compliance.{extra}", path)
                assert extra_spec is not None and extra_spec.loader is not None
                extra_module = importlib.util.module_from_spec(extra_spec)
                sys.modules[f"compliance.{extra}"] = extra_module
                extra_spec.loader.exec_module(extra_module)
        spec = importlib.util.spec_from_file_location("compliance.reports", source / "__init__.py",
                                                      submodule_search_locations=[str(source)])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["compliance.reports"] = module
        spec.loader.exec_module(module)
        yield module
    finally:
        for name in [n for n in sys.modules if _owned(n)]:
            del sys.modules[name]
        sys.modules.update(saved)


def extract_before(ref: str, target: Path) -> Path:
    """``compliance/reports`` (and :data:`RENDER_MODULES`) as committed at ``ref``, written under ``target``."""
    paths = ["compliance/reports", *(f"compliance/{module}.py" for module in RENDER_MODULES)]
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, *paths],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "compliance" / "reports"


def measure(result: ScanResult, package: ModuleType, out: Path, key: SM2PrivateKey) -> tuple[Counter[str], float, Path]:
    started = time.perf_counter()
    package.publish_reports(result, out, package.DEFAULT_FORMATS, key)
    elapsed = time.perf_counter() - started
    sizes: Counter[str] = Counter()
    for path in out.rglob("*"):
        if path.is_file():
            sizes[_kind(path, out)] += path.stat().st_size
    return sizes, elapsed, out


def json_breakdown(path: Path, count: int) -> str:
    """Bytes per system of each top-level key of the JSON report and of each key of its systems (compact)."""
    data = json.loads(path.read_text(encoding="utf-8"))

    def size(value: object) -> int:
        return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

    top = {key: size(value) for key, value in data.items() if key != "systems"}
    per_system: Counter[str] = Counter()
    for system in data["systems"]:
        for key, value in system.items():
            per_system[key] += size(value)
    shown = sorted(top.items(), key=lambda kv: -kv[1])[:7] + [(f"systems.{k}", v) for k, v in per_system.most_common(6)]
    return "JSON report, B/system by key: " + ", ".join(f"{key} {value / count:,.0f}" for key, value in shown)


def browser_timings(summary: Path) -> None:
    """Open ``summary`` in headless Chromium and print what a reader waits for."""
    from tests.report_browser.cdp import browser, find_chromium
    from tests.report_browser.test_report_in_browser import open_file, timings, wait_loaded

    executable = find_chromium()
    if executable is None:
        print("browser: chromium is not installed (apt-get install chromium); no timing")
        return
    with browser(executable) as page:
        open_file(page, summary)
        measured = timings(page)
        rows = page.evaluate("document.querySelectorAll('tr.sysrow').length")
        # Timed inside the page, up to the style and layout the change causes (forced by reading offsetHeight):
        # what a reader waits for before the filtered table can be painted. Timed around a DevTools round trip,
        # the figure held that work in some runs and not in others (4 ms and 110 ms for the same page).
        filtered = page.evaluate("(function(){var e=document.getElementById('f-level'),t=performance.now();"
                                 "e.value='3';e.dispatchEvent(new Event('change'));void document.body.offsetHeight;"
                                 "return performance.now()-t;})()")
        shown = page.evaluate("document.getElementById('shown').textContent")
        started = time.perf_counter()
        href = page.evaluate("(function(){var a=document.querySelector('tr.sysrow a');a.click();"
                             "return a.getAttribute('href');})()")
        wait_loaded(page, href.split("/")[-1])
        opened = (time.perf_counter() - started) * 1000
        items = page.evaluate("document.querySelectorAll('#items-body tr.item').length")
        print(f"browser (headless Chromium, {rows} system rows): first render {measured['first_render_ms']:.0f} ms, "
              f"DOMContentLoaded {measured['dom_ms']:.0f} ms, load event {measured['load_ms']:.0f} ms; "
              f"level filter {filtered:.0f} ms to style and layout ({shown} shown); "
              f"a system page opened with its {items} items in {opened:.0f} ms; errors: {page.errors() or 'none'}")


def report(label: str, result: ScanResult, before_src: Path | None, work: Path, key: SM2PrivateKey,
           browse: bool = False) -> float:
    count = len(result.systems)
    runs: dict[str, tuple[Counter[str], float, Path]] = {}
    if before_src is not None:
        with reports_package(before_src) as package:
            runs["before"] = measure(result, package, work / f"{label}-before", key)
    with reports_package(None) as package:
        runs["after"] = measure(result, package, work / f"{label}-after", key)
    print(f"\n== {label}: {count} systems ==")
    print(f"{'file type':<14}" + "".join(f"{name + ' B/system':>20}" for name in runs))
    for kind in KINDS:
        print(f"{kind:<14}" + "".join(f"{sizes[kind] / count:>20,.0f}" for sizes, _, _ in runs.values()))
    totals = {name: sum(sizes.values()) / count / 1024 for name, (sizes, _, _) in runs.items()}
    for name, (sizes, elapsed, out) in runs.items():
        files = sum(1 for p in out.rglob("*") if p.is_file())
        print(f"{name}: {sum(sizes.values()) / 1e6:.2f} MB in {files} files = {totals[name]:.1f} KiB per system; "
              f"rendered, validated and signed in {elapsed:.1f} s")
    after_out = runs["after"][2]
    print(json_breakdown(after_out / "compliance-report.json", count))
    pages = [p for p in (after_out / "report-pages").glob("system-*.html")]
    if pages:
        sizes_kib = sorted(p.stat().st_size / 1024 for p in pages)
        print(f"HTML page weight: summary report.html {(after_out / 'report.html').stat().st_size / 1024:.0f} KiB; "
              f"system pages median {sizes_kib[len(sizes_kib) // 2]:.0f} KiB, largest {sizes_kib[-1]:.0f} KiB; "
              f"catalogue.js {(after_out / 'report-pages' / 'catalogue.js').stat().st_size / 1024:.0f} KiB")
    if "before" in totals:
        print(f"ratio before / after: {totals['before'] / totals['after']:.1f}× "
              f"({totals['before']:.1f} → {totals['after']:.1f} KiB per system)")
    if browse:
        browser_timings(after_out / "report.html")
    verdict = "meets" if totals["after"] <= TARGET_KIB else "misses"
    print(f"target ≤ {TARGET_KIB:.0f} KiB per system: {verdict} ({totals['after']:.1f} KiB)")
    return totals["after"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=2000, help="synthetic register size (0: skip)")
    parser.add_argument("--before", default="HEAD", help="git revision of compliance/reports to compare with")
    parser.add_argument("--no-before", action="store_true", help="measure the working tree only")
    parser.add_argument("--skip-example", action="store_true", help="skip the example region")
    parser.add_argument("--browser", action="store_true", help="time the synthetic summary in headless Chromium")
    args = parser.parse_args()
    key = SM2PrivateKey.generate()
    with tempfile.TemporaryDirectory(prefix="xzgov-bench-reports-") as scratch:
        work = Path(scratch)
        before_src = None if args.no_before else extract_before(args.before, work / "before-src")
        if not args.skip_example:
            report("example region", scan(ScanOptions(root=ROOT)), before_src, work, key)
        if args.systems:
            root = work / "register"
            build_region_register(root, args.systems)
            started = time.perf_counter()
            result = scan(ScanOptions(root=root))
            print(f"\n(synthetic register of {len(result.systems)} systems scanned in "
                  f"{time.perf_counter() - started:.1f} s)")
            report("synthetic", result, before_src, work, key, browse=args.browser)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
