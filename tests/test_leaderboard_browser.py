"""The leaderboard's pages in a real Chromium with JavaScript off (Playwright driving Debian's
``chromium``): two results uploaded through the API appear ranked; filter, sort, open one,
compare the two. Screenshots of each step land in the test's folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ledgers import write_tiny_run
from liveserver import serving
from test_leaderboard import Board

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="chromium is not installed here (.ci/run installs it)"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A live leaderboard on loopback holding two accepted results of one system."""
    folder = tmp_path_factory.mktemp("site")
    run_dir = write_tiny_run(folder / "run")
    board = Board(f"sqlite:///{folder / 'board.db'}", folder)
    for who in ("lab", "rival"):
        system = {"submitter": who, "system_name": "box"}
        from aiperf.submit import make_bundle, system_from_run

        bundle = make_bundle(run_dir, folder / f"{who}.tar.gz", system_from_run(run_dir, system),
                             board.keys[who])  # fmt: skip
        board.upload(bundle, who)
    assert board.verify() == 2
    with serving(board.app) as url:
        yield url, folder


@pytest.fixture(scope="module")
def no_js_page():
    """A Chromium page with JavaScript off: the pages must work without it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        context = chromium.new_context(java_script_enabled=False)
        yield context.new_page()
        chromium.close()


def test_ranked_filtered_opened_and_compared_without_javascript(site, no_js_page) -> None:
    url, folder = site
    page = no_js_page
    page.goto(url)
    page.screenshot(path=folder / "1-ranking.png", full_page=True)
    rows = page.locator("table tbody tr")
    assert rows.count() == 2 and "tiny · rules v1 · closed" in page.inner_text("h2")
    page.goto(f"{url}/?division=open")  # what the form sends for a division nobody is in
    assert "No verified result matches" in page.inner_text("body")
    page.select_option("select[name=division]", "closed")
    page.select_option("select[name=sort]", "flops")
    page.click("button[type=submit]")
    assert page.locator("table tbody tr").count() == 2 and "sort=flops" in page.url
    page.click("table tbody tr >> nth=0 >> a")
    page.wait_for_load_state("load")  # the plots are drawn on first view: wait for them
    page.screenshot(path=folder / "2-submission.png", full_page=True)
    assert "Regulated score" in page.inner_text("body") and "closed division" in page.inner_text(
        "p"
    )
    images = page.locator("img")
    assert images.count() == 4
    assert all(w > 0 for w in images.evaluate_all("els => els.map(e => e.naturalWidth)"))
    page.click("h1 a")  # the system's history
    page.click("text=with the previous")
    page.wait_for_load_state("load")
    page.screenshot(path=folder / "3-compare.png", full_page=True)
    assert page.locator("table thead th").count() == 3 and page.locator("img").count() == 1
    assert page.locator("img").evaluate("e => e.naturalWidth") > 0
