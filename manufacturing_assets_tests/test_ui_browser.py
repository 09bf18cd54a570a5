"""Browser tests: a person clicks through `dagster dev` (Playwright driving Debian's chromium,
against the session's shared server, ``ui_server`` fixture).

1. open the asset graph; jump to ``silver/sensor_readings``;
2. on ``plant_day_job``'s page, "Materialize all…", dates ``[2024-03-30...2024-04-01]``,
   plant P02, "Launch backfill"; wait for success (GraphQL);
3. on ``silver/sensor_readings`` in the graph, "Materialize selected…" with the partition
   picker for 2024-03-31 x P02, "Launch 1 run"; wait for success;
4. read from the page: every selected partition materialized by the run that was launched
   for it, with its own row count (asset Partitions tab), and its own passed check
   evaluation per check (Checks tab, check Partitions view).

Screenshots of every step go to ``test-artifacts/ui/`` (their paths are printed).
Partitions of P02 are launched here only by this module; each partition read back is also
tied to the run launched for it, so results do not depend on the order of test modules.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from manufacturing_assets_tests.ui_server import (
    ARTIFACTS,
    SAMPLE_DATES,
    UIServer,
    partition,
    progress,
)

# one fixture launches and waits for everything; on a busy machine runs take minutes
pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

PLANT = "P02"
BACKFILL = [partition(day, PLANT) for day in SAMPLE_DATES]
SINGLE = partition(SAMPLE_DATES[1], PLANT)  # 2024-03-31|P02, neighbours backfilled first
ASSET = "silver/sensor_readings"
CHECKS = ("pandera_SilverSensorReadings", "quarantine_share", "silent_devices")
GOLD = "gold/oee_daily"  # the end of the job's chain (silver -> state intervals -> OEE)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STATUS_WORDS = ("Materialized", "Missing", "Failed", "Materializing")
CHECK_RESULTS = ("Passed", "Failed", "Skipped", "Missing", "Execution failed", "In progress")


class Browser:
    """A page on the server, with numbered full-page screenshots."""

    def __init__(self, page: Any, url: str, artifacts: Path = ARTIFACTS) -> None:
        self.page = page
        self.url = url
        self.artifacts = artifacts
        self.count = 0

    def shot(self, name: str) -> str:
        self.count += 1
        path = self.artifacts / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        progress(f"screenshot {path}")
        return str(path)

    def goto(self, path: str) -> None:
        self.page.goto(self.url + path)
        self.page.wait_for_load_state("networkidle")

    def text(self) -> str:
        return self.page.locator("body").inner_text()

    # ------------------------------------------------------------ the partition picker

    def pick_partitions(self, dates: str, plant: str) -> Any:
        """Fill the open Materialize dialog's date box and plant multi-select."""
        dialog = self.page.get_by_role("dialog")
        box = dialog.get_by_placeholder(re.compile(r"^ex: "))
        box.fill(dates)
        box.press("Enter")
        dialog.get_by_text("Select a partition or create one").click()
        self.page.locator("span").filter(has_text=re.compile(f"^{plant}$")).click()
        self.page.keyboard.press("Escape")  # close the plant list
        return dialog

    def launch(self, dialog: Any, button: str, operation: str) -> dict[str, Any]:
        """Click the dialog's launch button; returns the GraphQL answer to ``operation``."""
        with self.page.expect_response(
            lambda r: "graphql" in r.url and operation in (r.request.post_data or "")
        ) as answer:
            dialog.get_by_role("button", name=button).click()
        return answer.value.json()["data"]

    # ------------------------------------------------------------ reading the page

    def open_partition(self, date: str, plant: str, ready: tuple[str, ...]) -> str:
        """In a partitions view (asset or check): filter the dates, click the date, click
        the plant; returns the text of the detail pane once it shows one of ``ready``."""
        self.page.get_by_placeholder("Filter by date…").fill(date)
        self.page.get_by_text(date, exact=True).first.click()
        self.page.get_by_text(plant, exact=True).first.click()
        key = partition(date, plant)
        deadline = time.monotonic() + 30
        previous = None
        while True:
            text = self.text()
            pane = text[text.rfind(key) :] if key in text else ""
            loaded = any(line.strip() in ready for line in pane.split("\n")[:6])
            if loaded and pane == previous:  # loaded and settled
                return pane
            if time.monotonic() > deadline:
                raise AssertionError(f"the detail pane of {key} did not load: {pane[:500]!r}")
            previous = pane if loaded else None
            time.sleep(0.5)


def materialization_detail(pane: str) -> dict[str, Any]:
    """Status, run and row count of an asset partition's detail pane."""
    status = next((w for w in pane.split("\n") if w.strip() in STATUS_WORDS), None)
    run = re.search(r"\nRun\n+([0-9a-f]{8})", pane)
    rows = re.search(r"dagster/row_count\s+([\d,]+)", pane)
    return {
        "status": status,
        "run": run.group(1) if run else None,
        "row_count": int(rows.group(1).replace(",", "")) if rows else None,
    }


def check_detail(pane: str) -> dict[str, Any]:
    """Result, run and metadata of a check partition's detail pane."""
    lines = [line.strip() for line in pane.split("\n") if line.strip()]
    result = next((w for w in lines if w in CHECK_RESULTS), None)
    run = re.search(r"\nRun\n+([0-9a-f]{8})", pane)
    meta = {}
    for name in ("plant_id", "production_date", "rows", "quarantine_share", "silver_rows"):
        if name in lines and lines.index(name) + 1 < len(lines):
            meta[name] = lines[lines.index(name) + 1]
    return {"result": result, "run": run.group(1) if run else None, "metadata": meta}


@contextmanager
def open_browser(url: str, artifacts: Path = ARTIFACTS) -> Iterator[Browser]:
    """Chromium on ``url``; screenshots (old ones removed) in ``artifacts``."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if not chromium:
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does it)")
    artifacts.mkdir(parents=True, exist_ok=True)
    for old in artifacts.glob("*.png"):
        old.unlink()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = b.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            yield Browser(page, url, artifacts)
        finally:
            b.close()


def show_asset_graph(browser: Browser) -> None:
    """Open the asset graph and wait for the partitioned groups."""
    browser.goto("/asset-groups")
    for group in ("bronze", "silver", "quarantine", "gold"):
        browser.page.get_by_text(group, exact=True).first.wait_for()
    browser.shot("asset-graph")


def materialize_one_plant_day(browser: Browser, day: str, plant: str) -> str:
    """``silver/sensor_readings`` in the asset graph, "Materialize selected…", one plant-day
    in the partition picker, "Launch 1 run"; returns the run id."""
    page = browser.page
    browser.goto("/asset-groups")
    page.get_by_placeholder("Jump to…").fill("sensor_readings")
    page.get_by_text("sensor_readings silver", exact=True).click()
    page.get_by_role("button", name=re.compile("Materialize selected…")).click()
    # silver and quarantine are outputs of one step: the UI asks to confirm both
    confirm = page.get_by_role("button", name="Confirm")
    page.get_by_role("dialog").first.wait_for()
    if confirm.count():
        browser.shot("asset-materialize-confirm")
        confirm.click()
    dialog = browser.pick_partitions(day, plant)
    dialog.get_by_text("1 partition", exact=True).wait_for()
    browser.shot("asset-materialize-dialog")
    data = browser.launch(dialog, "Launch 1 run", "LaunchPipelineExecution")
    result = data["launchPipelineExecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    run_id = result["run"]["id"]
    page.get_by_text(re.compile(f"Launched run {run_id[:8]}")).wait_for()
    browser.shot("asset-materialize-launched")
    return run_id


@pytest.fixture(scope="module")
def browser(ui_server: UIServer) -> Iterator[Browser]:
    with open_browser(ui_server.url) as b:
        yield b


@pytest.fixture(scope="module")
def launched(ui_server: UIServer, browser: Browser) -> dict[str, Any]:
    """Clicks 1-3 of the module docstring; returns the backfill, its runs and the run."""
    page = browser.page
    out: dict[str, Any] = {}

    # 1. the asset graph
    show_asset_graph(browser)

    # 2. plant_day_job: Materialize all, 3 dates x P02 (a backfill)
    page.get_by_role("link").filter(has_text=re.compile(r"^Jobs$")).click()
    page.get_by_role("link").filter(has_text=re.compile(r"^plant_day_job$")).click()
    page.get_by_role("button", name=re.compile("Materialize all…")).wait_for()
    browser.shot("job-page")
    page.get_by_role("button", name=re.compile("Materialize all…")).click()
    dialog = browser.pick_partitions(f"[{SAMPLE_DATES[0]}...{SAMPLE_DATES[-1]}]", PLANT)
    dialog.get_by_text("3 partitions", exact=True).wait_for()
    browser.shot("job-backfill-dialog")
    data = browser.launch(dialog, "Launch backfill", "LaunchPartitionBackfill")
    result = data["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    out["backfill_id"] = result["backfillId"]
    progress(f"UI launched backfill {out['backfill_id']} of plant_day_job x {BACKFILL}")
    browser.shot("job-backfill-launched")
    out["backfill"] = ui_server.wait_for_backfill(out["backfill_id"])
    browser.goto(f"/runs/b/{out['backfill_id']}")
    page.get_by_text("Succeeded", exact=True).first.wait_for()
    browser.shot("job-backfill-succeeded")

    # 3. silver/sensor_readings in the asset graph: Materialize selected, one plant-day
    out["run_id"] = materialize_one_plant_day(browser, SAMPLE_DATES[1], PLANT)
    out["run"] = ui_server.wait_for_run(out["run_id"])
    return out


def test_ui_launches_succeed_with_the_selected_partitions(ui_server, launched) -> None:
    backfill = launched["backfill"]
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert sorted(backfill["partitionNames"]) == BACKFILL
    assert backfill["runs"] and all(r["status"] == "SUCCESS" for r in backfill["runs"])
    run = launched["run"]
    assert run["status"] == "SUCCESS", run
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags.get("dagster/partition") == SINGLE, tags


def _expected_runs(ui_server: UIServer, launched: dict[str, Any], asset: str) -> dict[str, str]:
    """Partition -> the run (8 characters) whose materialization the page should show."""
    out = {}
    for run in launched["backfill"]["runs"]:
        for m in ui_server.run_events([run["runId"]]).materializations:
            if m.asset == asset:
                out[m.partition] = run["runId"][:8]
    if asset == ASSET:
        out[SINGLE] = launched["run_id"][:8]
    return out


@pytest.mark.parametrize("asset", [ASSET, GOLD])
def test_asset_partitions_view_shows_each_partition_materialized(
    ui_server, browser, launched, asset
) -> None:
    """Asset page, Partitions tab: each selected plant-day is Materialized, by the run
    launched for it, with its own row count (= its rows in the Delta table)."""
    expected_runs = _expected_runs(ui_server, launched, asset)
    rows = ui_server.delta_rows(asset, BACKFILL)
    browser.goto(f"/assets/{asset}")
    browser.page.get_by_role("tab", name="Partitions").click()
    seen = {}
    for key in BACKFILL:
        day, plant = key.split("|")
        seen[key] = materialization_detail(browser.open_partition(day, plant, STATUS_WORDS))
        browser.shot(f"{asset.replace('/', '-')}-partition-{day}-{plant}")
    want = {
        key: {"status": "Materialized", "run": expected_runs.get(key), "row_count": rows[key]}
        for key in BACKFILL
    }
    assert seen == want, json.dumps({"page": seen, "expected": want}, indent=1)
    assert all(rows.values()), rows


@pytest.mark.parametrize("check", CHECKS)
def test_each_partition_has_its_own_passed_check_on_the_page(
    ui_server, browser, launched, check
) -> None:
    """Asset page, Checks tab, the check's Partitions view: each selected plant-day has its
    own evaluation, Passed, from the run launched for it, naming its plant and date."""
    expected_runs = _expected_runs(ui_server, launched, ASSET)
    _open_check_partitions(browser, check)
    seen = {}
    for key in BACKFILL:
        day, plant = key.split("|")
        detail = check_detail(browser.open_partition(day, plant, CHECK_RESULTS))
        seen[key] = {
            "result": detail["result"],
            "run": detail["run"],
            "plant": detail["metadata"].get("plant_id"),
            "date": detail["metadata"].get("production_date"),
        }
        browser.shot(f"check-{check}-{day}-{plant}")
    want = {
        key: {"result": "Passed", "run": expected_runs[key], "plant": PLANT, "date": key[:10]}
        for key in BACKFILL
    }
    assert seen == want, json.dumps({"page": seen, "expected": want}, indent=1)


def _open_check_partitions(browser: Browser, check: str) -> None:
    browser.goto(f"/assets/{ASSET}?view=checks")
    browser.page.get_by_text(check, exact=True).first.click()
    browser.page.get_by_text("Partitions", exact=True).last.click()
    browser.page.get_by_text(re.compile(r"^Passed \(\d+\)$")).wait_for()


@pytest.mark.parametrize("check", CHECKS)
def test_check_partition_health_counts_the_partitions_as_passed(browser, launched, check) -> None:
    """The check's Partitions view counts the passed plant-days (its status bar and the
    "Passed (n)" filter), as the detail of each partition says."""
    _open_check_partitions(browser, check)
    deadline = time.monotonic() + 20
    while True:  # until the counts add up to the partitions shown (the view has loaded)
        text = browser.text()
        counts = {
            m.group(1): int(m.group(2))
            for m in re.finditer(
                r"(Execution Failed|Failed|In Progress|Missing|Skipped|Passed) \((\d+)\)", text
            )
        }
        total = re.search(r"([\d,]+) Partitions\n", text)
        if total and sum(counts.values()) == int(total.group(1).replace(",", "")):
            break
        assert time.monotonic() < deadline, f"the Partitions view did not load: {counts}"
        time.sleep(0.5)
    browser.shot(f"check-{check}-health")
    assert counts.get("Passed", 0) >= len(BACKFILL), (
        f"{check}: the Partitions view counts {counts} although each of {BACKFILL} has a "
        "passed evaluation (see the detail pane)"
    )
