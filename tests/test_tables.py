"""Every table we write is valid GitHub Markdown (parsed with markdown-it-py), fits a terminal, and loads into pandas."""

from __future__ import annotations

import json
import math

import pytest
from conftest import EXAMPLE, EXAMPLE_ONLY

from harness.cli.main import main
from harness.reports.tables import Column, Table
from harness.workflows.checkpoints import Checkpoint, trend_table
from harness.workflows.quant_report import QuantReport, VariantResult, render_quant

markdown_it = pytest.importorskip("markdown_it")


def parse_tables(markdown: str) -> list[list[list[str]]]:
    """Each table in the text as a grid of cell texts (header row first), as GitHub would render it."""
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(markdown)
    tables, grid, row, cell = [], None, None, None
    for tok in tokens:
        if tok.type == "table_open":
            grid = []
        elif tok.type == "table_close":
            tables.append(grid)
            grid = None
        elif tok.type == "tr_open":
            row = []
        elif tok.type == "tr_close":
            grid.append(row)
        elif tok.type in ("th_open", "td_open"):
            cell = ""
        elif tok.type == "inline" and cell is not None:
            cell = "".join(child.content for child in tok.children or [] if child.type in ("text", "code_inline", "softbreak"))
        elif tok.type in ("th_close", "td_close"):
            row.append(cell)
            cell = None
    return tables


def assert_valid(markdown: str, header: list[str], rows: int) -> list[list[str]]:
    tables = parse_tables(markdown)
    assert len(tables) == 1, markdown
    (grid,) = tables
    assert grid[0] == header and len(grid) == rows + 1
    assert all(len(r) == len(header) for r in grid)
    return grid


def fake_run(tmp_path, name: str, wrong: int) -> str:
    """A fake-backend run on the example data whose first `wrong` MCQ answers are wrong and the rest right."""
    import csv

    answers = [row["answer"] for row in csv.DictReader((EXAMPLE / "example_val.csv").open(encoding="utf-8"))]
    table = tmp_path / f"{name}.jsonl"
    picks = ["ABCD"[("ABCD".index(a) + 1) % 4] if i < wrong else a for i, a in enumerate(answers)]
    table.write_text("".join(json.dumps({"key": f"general_mcq/example/{i}", "prediction": p}) + "\n" for i, p in enumerate(picks)))
    run_dir = tmp_path / name
    assert main(["eval", "--backend", "fake", "--model", f"table:{table}", "--dataset-args", EXAMPLE_ONLY, "--run-dir", str(run_dir)]) == 0
    return str(run_dir)


@pytest.fixture
def three_runs(tmp_path, capsys):
    runs = [fake_run(tmp_path, f"run{i}", wrong) for i, wrong in enumerate((0, 3, 12))]
    capsys.readouterr()
    return runs


def test_three_runs_side_by_side_in_markdown(three_runs, capsys):
    assert main(["report", *three_runs, "--format", "md"]) == 0
    md = capsys.readouterr().out
    results = [json.loads((__import__("pathlib").Path(r) / "results.json").read_text()) for r in three_runs]
    rows = [r for r in results[0]["scores"] if r["category"] == "-"]
    grid = assert_valid(md, ["Dataset", "Metric", "Subset", "Num", "R1", "R2", "R3"], len(rows))
    for line, row in zip(grid[1:], rows, strict=True):
        assert line[:4] == [row["task"], row["metric"], row["subset"], str(row["n"])]
        assert line[4] == f"{row['score']:.4f}"
        for label, other in (("R2", results[1]), ("R3", results[2])):
            match = next(
                r
                for r in other["scores"]
                if (r["task"], r["metric"], r["subset"], r["category"]) == (row["task"], row["metric"], row["subset"], "-")
            )
            cell = line[grid[0].index(label)]
            assert cell.startswith(f"{match['score']:.4f} ({match['score'] - row['score']:+.4f}")
    acc = next(line for line in grid[1:] if line[1] == "acc")
    assert acc[4] == "1.0000" and acc[6].startswith("0.0000 (-1.0000**)")  # 12 right -> 0 right: McNemar p = 2/2^12
    assert "R1 (reference): " in md and "R3: " in md and "* p < 0.05, ** p < 0.01" in md


def test_single_run_compare_quant_and_trend_tables_are_valid(three_runs, tmp_path, capsys):
    assert main(["report", three_runs[0], "--format", "md"]) == 0
    # The example's categories all have fewer than 10 samples, so they are folded: no always-empty Cat.0 column.
    assert_valid(capsys.readouterr().out, ["Model", "Dataset", "Metric", "Subset", "Num", "Score", "95% CI"], 14)
    assert main(["report", three_runs[0], "--format", "md", "--min-n", "1"]) == 0
    assert "| Cat.0 |" in capsys.readouterr().out
    assert main(["compare", three_runs[0], three_runs[1], three_runs[2], "--format", "md"]) == 0
    md = capsys.readouterr().out
    header = ["Run", "Dataset", "Metric", "Subset", "Num", "Base", "New", "Delta", "95% CI", "p", "MDE", "Disc.", "Verdict"]
    grid = assert_valid(md, header, 2 * 14)
    assert "Base run0: " in md and "New run2: " in md and grid[1][0] == "run1"
    report = QuantReport("fp32", [
        VariantResult("fp32", metrics=[{"task": "t", "metric": "acc", "n": 5, "reference": 0.5, "score": 0.5, "delta": 0.0,
                                        "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0, "test": "mcnemar"}],
                      agreement=1.0, mean_abs_dlogp=0.0, mean_kl=0.0),
        VariantResult("int4", error="needs a | CUDA device"),
    ], "out")  # fmt: skip
    grid = assert_valid(
        render_quant(report, "md"), [c.name for c in __import__("harness.workflows.quant_report", fromlist=["COLUMNS"]).COLUMNS], 2
    )
    assert grid[0][9] == "mean|dlogP|" and grid[2][2] == "not run: needs a | CUDA device"
    results = [json.loads((__import__("pathlib").Path(r) / "results.json").read_text()) for r in three_runs]
    trend = trend_table([(Checkpoint(tmp_path / f"checkpoint-{s}", s, False), r, s == 1) for s, r in zip((1, 2, 3), results, strict=True)])
    grid = assert_valid(trend.markdown(), ["checkpoint", "step", "general_mcq/acc", *[f"general_qa/{m}" for m in (
        "bleu-1", "bleu-2", "bleu-3", "bleu-4", "Rouge-1-R", "Rouge-1-P", "Rouge-1-F", "Rouge-2-R", "Rouge-2-P", "Rouge-2-F",
        "Rouge-L-R", "Rouge-L-P", "Rouge-L-F")], "evaluated"], 3)  # fmt: skip
    assert [r[1] for r in grid[1:]] == ["1", "2", "3"] and grid[1][-1] == "earlier (reused)"


def test_cells_with_pipes_newlines_and_backslashes_stay_in_their_column():
    table = Table([Column("a"), Column("b", numeric=True)], [["x|y", "1"], ["line\nbreak", "2"], ["back\\slash", "3"]])
    grid = assert_valid(table.markdown(), ["a", "b"], 3)
    assert [r[0] for r in grid[1:]] == ["x|y", "line break", "back\\slash"]
    assert "|---|---:|" in table.markdown()


def test_terminal_tables_fit_80_columns(three_runs, capsys):
    from harness.reports.side_by_side import side_by_side

    table = side_by_side([__import__("pathlib").Path(r) for r in three_runs]).table()
    text = table.terminal(width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    wide = Table([Column(f"column {i}", drop=i) for i in range(12)], [[f"value {i}" for i in range(12)]])
    narrow = wide.terminal(width=80)
    assert max(len(line) for line in narrow.splitlines()) <= 80 and "columns left out to fit 80 columns" in narrow


def test_no_cell_ever_wraps_and_each_row_is_one_line():
    """Names are never folded onto a second line, even when nothing can be dropped: `| grep NAME` finds the row."""
    names = ["arc_challenge", "a_very_long_subset_name_that_does_not_fit_anywhere_near_eighty_columns_at_all"]
    table = Table([Column("name"), Column("format"), Column("size", numeric=True)], [[n, "general_mcq", "1172"] for n in names])
    text = table.terminal(width=40)
    for name in names:
        (line,) = [line for line in text.splitlines() if name in line]
        assert "general_mcq" in line and "1172" in line


def test_csv_has_numeric_interval_bounds(three_runs, capsys):
    assert main(["report", three_runs[0], "--format", "csv"]) == 0
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["CI low"] and float(rows[0]["CI low"]) <= float(rows[0]["Score"]) <= float(rows[0]["CI high"])


def test_load_run_samples_round_trip_every_record_and_compare_runs_is_a_frame(three_runs):
    pytest.importorskip("pandas")
    import harness

    run = harness.load_run(three_runs[0])
    records = list(run.records())
    frame = run.samples
    assert len(frame) == len(records) == 24
    for rec, (_, row) in zip(records, frame.iterrows(), strict=True):
        back = {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
        assert back == rec
    assert set(run.scores.columns) >= {"run", "task", "metric", "subset", "n", "score", "ci_low", "ci_high"}
    runs = harness.load_run(three_runs)
    assert [r.label for r in runs] == ["run0", "run1", "run2"]
    diff = harness.compare_runs(three_runs[0], three_runs[2])
    acc = diff[(diff.metric == "acc") & (diff.subset == "example")].iloc[0]
    assert acc.delta == pytest.approx(-1.0) and acc.verdict == "regression"


def test_the_default_run_prints_no_empty_column_and_no_fold_note(tmp_path, capsys):
    assert main(["eval", "--backend", "fake", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Cat.0" not in out and "category row(s)" not in out and "general_mcq" in out
