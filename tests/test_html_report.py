"""The HTML report in a real headless Chromium: values, filters, screenshots, and no script injection."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import write

from harness.cli.main import main
from harness.reports.html import render_html

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


def test_page_is_self_contained_and_data_is_escaped(tmp_path, capsys):
    run = make_run(tmp_path, "a")
    page = render_html([run])
    assert "<script>window.__xss" not in page and "<img src=x" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert 'src="' not in page and "<link" not in page


def make_run(tmp_path: Path, name: str, *, wrong_first: bool = False, rows: int = 12) -> Path:
    """A fake-backend run over MCQ + QA whose predictions carry HTML and script."""
    data = tmp_path / f"data_{name}"
    lines = ["id,question,A,B,C,answer"] + [f"{i},Question {i} <b>bold</b>?,x<i>,y,z,{'ABC'[i % 3]}" for i in range(rows)]
    write(data, "s1_val.csv", "\n".join(lines) + "\n")
    write(data, "qa.jsonl", "".join(json.dumps({"query": f"q{i}", "response": "ref <u>"}) + "\n" for i in range(3)))
    table = tmp_path / f"table_{name}.jsonl"
    entries = [{"key": f"general_qa/qa/{i}", "prediction": XSS} for i in range(3)]
    # Row 0's answer is A: right in a plain run, wrong (C) with wrong_first; every other row answers B.
    entries += [{"key": f"general_mcq/s1/{i}", "prediction": ("C" if wrong_first else "A") if i == 0 else "B"} for i in range(rows)]
    table.write_text("".join(json.dumps(e) + "\n" for e in entries))
    args = json.dumps(
        {"general_mcq": {"local_path": str(data)}, "general_qa": {"local_path": str(data), "metrics": ["exact_match", "bleu"]}}
    )
    run_dir = tmp_path / "runs" / name
    assert main(["eval", "--backend", "fake", "--model", f"table:{table}", "--dataset-args", args, "--run-dir", str(run_dir)]) == 0
    return run_dir


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        if os.environ.get("HARNESS_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here: apt-get install chromium chromium-driver")
        pytest.skip("no system Chromium (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1800"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def open_report(browser, tmp_path: Path, runs: list[Path]) -> None:
    out = tmp_path / "report.html"
    assert main(["report", *map(str, runs), "--format", "html", "-o", str(out)]) == 0
    browser.get(out.as_uri())
    # A 10,000-sample page can still be rendering when get() returns: wait for the script's first render.
    deadline = time.monotonic() + 60
    while not browser.execute_script("const c = document.getElementById('count'); return c && c.textContent"):
        assert time.monotonic() < deadline, "the report's script did not render within 60 s"
        time.sleep(0.1)


def visible_rows(browser) -> list[list[str]]:
    return browser.execute_script(
        "return [...document.querySelectorAll('#samples tbody tr')].map(tr => [...tr.cells].map(td => td.textContent))"
    )


@pytest.mark.browser
def test_report_in_chromium(browser, tmp_path, capsys):
    first, second = make_run(tmp_path, "checkpoint-10"), make_run(tmp_path, "checkpoint-20", wrong_first=True)
    open_report(browser, tmp_path, [first, second])
    assert browser.execute_script("return window.__xss") is None

    # The score table puts the runs side by side: R1's value, then R2's value and its difference, row for row.
    cells = browser.execute_script(
        "return [...document.querySelectorAll('#scores tbody tr')].map(tr => [...tr.cells].map(td => td.textContent))"
    )
    head = browser.execute_script("return [...document.querySelectorAll('#scores thead th')].map(th => th.textContent)")
    assert head == ["Dataset", "Metric", "Subset", "Cat.0", "Num", "R1", "R2", "\u0394 R2"]
    one, two = (json.loads((run / "results.json").read_text())["scores"] for run in (first, second))
    shown = [r for r in one if r["category"] == "-"]
    assert len(cells) == len(shown)
    for line, a in zip(cells, shown, strict=True):
        b = next(r for r in two if (r["task"], r["metric"], r["subset"], r["category"]) == (a["task"], a["metric"], a["subset"], "-"))
        assert line[:3] == [a["task"], a["metric"] + (" (macro)" if a["aggregation"] == "macro" else ""), a["subset"]]
        assert line[5] == f"{a['score']:.4f}" and line[6] == f"{b['score']:.4f}" and line[7].startswith(f"{b['score'] - a['score']:+.4f}")
    acc = next(line for line in cells if line[1] == "acc" and line[2] == "s1")
    assert (
        acc[7] == "-0.0833" and browser.execute_script("return [...document.querySelectorAll('#scores td.down')].length") >= 1
    )  # one answer fewer right: shown as a drop, with no significance mark for a single flip
    runs = browser.execute_script("return [...document.querySelectorAll('#runs li')].map(li => li.textContent)")
    assert runs[0].startswith("R1 (reference): ") and "checkpoint-10" in runs[0] and runs[1].startswith("R2: ")

    # Every chart legend lies inside its chart (labels R1, R2 never clipped or overlapping).
    fit = browser.execute_script(
        "return [...document.querySelectorAll('#charts svg')].map(svg => {"
        "  const box = svg.getBoundingClientRect();"
        "  const items = [...svg.querySelectorAll('g.legend text')].map(t => t.getBoundingClientRect());"
        "  const inside = items.every(r => r.left >= box.left && r.right <= box.right && r.top >= box.top && r.bottom <= box.bottom);"
        "  const apart = items.every((r, i) => i === 0 || r.left >= items[i - 1].right || r.top >= items[i - 1].bottom);"
        "  return [items.length, inside, apart]; })"
    )
    assert fit and all(n == 2 and inside and apart for n, inside, apart in fit if n), fit

    # Charts: a bar chart per task and, for checkpoint runs, a line over steps.
    assert browser.execute_script("return document.querySelectorAll('#charts svg').length") == 4
    assert browser.execute_script("return document.querySelectorAll('#charts polyline').length") == 2

    # The model's HTML is shown as text.
    browser.find_element("id", "f-text").send_keys("onerror")
    rows = visible_rows(browser)
    assert len(rows) == 3 and rows[0][5] == XSS
    browser.find_element("css selector", "#samples tbody tr").click()
    assert XSS in browser.find_element("id", "detail").text
    assert browser.execute_script("return window.__xss") is None

    # Filters: wrong answers of the first run; flipped samples of the second.
    browser.find_element("id", "f-text").clear()
    browser.execute_script("const s = document.getElementById('f-ok'); s.value = 'wrong'; s.dispatchEvent(new Event('change'))")
    first_samples = [json.loads(x) for x in (first / "samples.jsonl").read_text().split("\n") if x]
    wrong = sum(1 for s in first_samples if s["scores"].get("acc", s["scores"].get("exact_match")) == 0)
    assert len(visible_rows(browser)) == wrong
    browser.execute_script(
        "const r = document.getElementById('f-run'); r.value = '1'; r.dispatchEvent(new Event('change'));"
        "const o = document.getElementById('f-ok'); o.value = 'all'; o.dispatchEvent(new Event('change'));"
        "const f = document.getElementById('f-flipped'); f.checked = true; f.dispatchEvent(new Event('change'));"
    )
    flipped = visible_rows(browser)
    assert len(flipped) == 1 and flipped[0][1] == "general_mcq/s1"  # only sample 0 changed
    shot = tmp_path / "report.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("HARNESS_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["HARNESS_SCREENSHOT_DIR"]) / "report.png")


@pytest.mark.browser
def test_ten_thousand_samples_stay_paginated(browser, tmp_path, capsys):
    run = make_run(tmp_path, "big", rows=10_000)
    open_report(browser, tmp_path, [run])
    assert browser.execute_script("return document.getElementById('count').textContent") == "10003 samples"
    assert len(visible_rows(browser)) == 50
    browser.find_element("id", "next").click()
    assert visible_rows(browser)[0][0] == "51"
    browser.find_element("id", "f-text").send_keys("Question 9999 ")
    assert len(visible_rows(browser)) == 1


@pytest.mark.browser
def test_cjk_text_gets_a_font_or_a_note(browser, tmp_path, capsys):
    """The page names CJK fonts; when the data holds CJK text and none is installed, it says so instead of showing boxes."""
    from conftest import EXAMPLE_ONLY

    run = tmp_path / "zh"
    assert main(["eval", "--backend", "fake", "--dataset-args", EXAMPLE_ONLY, "--run-dir", str(run)]) == 0
    open_report(browser, tmp_path, [run])
    family = browser.execute_script("return getComputedStyle(document.body).fontFamily")
    assert "Noto Sans CJK SC" in family and "Microsoft YaHei" in family
    missing = browser.execute_script("return cjkFontMissing()")
    assert browser.execute_script("return document.getElementById('cjk-note').hidden") == (not missing)
    shot = tmp_path / "cjk.png"
    browser.save_screenshot(str(shot))
    if os.environ.get("HARNESS_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["HARNESS_SCREENSHOT_DIR"]) / "report-cjk.png")
