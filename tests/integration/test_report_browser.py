"""report.html of a real run (state machine on moto, fake Claude at HTTP) as a person sees it in headless Chromium.

Debian's `chromium` and `chromium-driver` (scripts/install-browser.sh; `make browser`). Without them the test
skips, except under CI (`CI` set), where it fails. It saves a screenshot to its tmp_path and, when
`HAVACHAT_ARTIFACTS` names a directory, there as report.png.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from havachat.models import LearningItem
from havachat.pipeline.contracts import RunStatus, RunSummary
from havachat_local.report import write_report
from havachat_local.runner import LocalPipeline
from tests.fakes.fake_claude import FakeClaude

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HOSTILE_WORD = "<img src=x onerror=\"document.title='pwned'\">"
HOSTILE_DEFINITION = "</script><script>document.title='pwned'</script>"
VOCAB = f"word,pinyin,definition\n你好,nǐ hǎo,hello\n谢谢,xièxie,{HOSTILE_DEFINITION}\n好,hǎo,good\n{HOSTILE_WORD},,x\n"
# Claude's pronunciation answer with a wrong tone (你好 is nǐ hǎo): the reading check flags it.
WRONG_TONE = {
    "title": "Greeting",
    "explanation": "Two third tones.",
    "examples": [
        {"text": "你好", "romanization": "nǐ hào", "translation": "hello"},
        {"text": "谢谢", "romanization": "xièxie", "translation": "thanks"},
    ],
    "source_words": ["你好"],
}


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} missing: run scripts/install-browser.sh")
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/install-browser.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1200,1600")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def _visible_items(driver: WebDriver) -> list[WebElement]:
    return [item for item in driver.find_elements(By.CSS_SELECTOR, "article.item") if item.is_displayed()]


def _visible_categories(driver: WebDriver) -> list[str | None]:
    return [item.get_attribute("data-category") for item in _visible_items(driver)]


def test_a_person_can_filter_the_items_and_sees_flags_charts_and_the_words_as_written(
    local: LocalPipeline, fake_claude: FakeClaude, browser: WebDriver, tmp_path: Path
) -> None:
    # Given a real run's outputs and its report
    fake_claude.script(match="Category: pronunciation", answer=[WRONG_TONE])
    result = local.run_bytes(VOCAB.encode(), "uploads/zh/HSK1/report.csv")
    assert result.summary is not None and result.summary.status is RunStatus.SUCCEEDED, result
    summary: RunSummary = result.summary
    items: list[LearningItem] = local.read_items(summary.run_id)
    categories = sorted(summary.counts_by_category)
    assert len(categories) > 2 and summary.readings.mismatches > 0 and summary.cost_usd > 0
    report = write_report(tmp_path, summary, items)

    # When a person opens it
    driver = browser
    driver.get(report.as_uri())

    # Then they see every item, and a category filter leaves that category's items only
    assert driver.title == f"havachat run {summary.run_id}"
    assert len(_visible_categories(driver)) == len(items)
    Select(driver.find_element(By.ID, "category-filter")).select_by_value("idiom")
    assert _visible_categories(driver) == ["idiom"] * summary.counts_by_category["idiom"]
    shown = driver.find_element(By.ID, "shown-count").text
    assert shown == f"{summary.counts_by_category['idiom']} of {len(items)} items shown"
    Select(driver.find_element(By.ID, "category-filter")).select_by_value("")

    # a mismatched reading is highlighted in red with the dictionary's reading, and can be filtered on
    flagged = [e for e in driver.find_elements(By.CSS_SELECTOR, "li.example.reading-mismatch") if e.is_displayed()]
    assert flagged and "nǐ hào" in flagged[0].text and "dictionary “nǐ hǎo”" in flagged[0].text
    assert flagged[0].value_of_css_property("background-color") == "rgba(255, 227, 227, 1)"
    driver.find_element(By.ID, "flagged-only").click()
    visible = _visible_items(driver)
    assert visible and all(a.get_attribute("data-flagged") == "yes" for a in visible)
    assert len(visible) < len(items)
    driver.find_element(By.ID, "flagged-only").click()

    # each chart names every category, with a bar for what the category used
    for chart in ("items", "tokens", "cost", "latency"):
        figure = driver.find_element(By.CSS_SELECTOR, f'figure[data-chart="{chart}"]')
        labels = [t.text for t in figure.find_elements(By.CSS_SELECTOR, "g.row > text:first-child")]
        usage_only = [] if chart == "items" else sorted(set(summary.usage_by_category) - set(categories))
        assert sorted(labels) == sorted(categories + usage_only), chart
        for row in figure.find_elements(By.CSS_SELECTOR, "g.row"):
            bars = row.find_elements(By.CSS_SELECTOR, "rect.bar")
            assert sum(float(bar.get_attribute("width") or 0) for bar in bars) > 0, (chart, row.text)

    # and the hostile word and definition appear as written, with nothing run
    body = driver.find_element(By.TAG_NAME, "body").text
    assert HOSTILE_WORD in body and HOSTILE_DEFINITION in body
    assert driver.find_elements(By.CSS_SELECTOR, "img") == []
    assert driver.title != "pwned"
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []  # incl. CSP refusals

    driver.execute_script("window.scrollTo(0, 0)")
    screenshot = tmp_path / "report.png"
    assert driver.save_screenshot(str(screenshot))
    if artifacts := os.environ.get("HAVACHAT_ARTIFACTS"):
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(artifacts) / "report.png")
