"""One table model, rendered to every text format the harness writes: terminal, GitHub Markdown, CSV.

Every table (a run's scores, several runs side by side, a comparison, quant-compare, a checkpoint
trend) is built as a `Table` and rendered here, so each format has one escaping step, applied to
every cell, header, preamble line and note (names of subsets, categories and models come from
data files and servers, so they are untrusted):

- Markdown: `|` escaped, line breaks flattened, a `<` that could open a tag and an `&` that could
  start an entity written as entities (no raw HTML, no extra rows); numeric columns right-aligned;
  the delimiter row has as many cells as the header.
- CSV: carriage returns become line feeds (so the writer quotes them, and no name starts a row); a
  text cell that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@` or a tab) is
  prefixed with `'`; numbers, negative ones included, are left as numbers.
- Terminal: cells are literal text, never rich markup (`[bold]` prints as written).

A terminal table is fitted to the terminal's width by dropping the least important columns first, never
by wrapping a cell: each row stays one line, and a table whose kept columns are still wider than the
terminal is printed at its natural width. The columns left out are named under it, with the flag that
shows them. Output that is not a terminal (a pipe, a file) has no width to fit: every column is kept and
nothing wraps, so `| grep NAME` finds the whole row (`COLUMNS=N` sets a width anyway).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Column", "Table", "csv_cell", "md_text"]


@dataclass(frozen=True)
class Column:
    """A column: its header, whether it holds numbers (right-aligned), and how readily a narrow terminal drops it.

    `drop` 0 means always shown; higher numbers are dropped first.
    """

    name: str
    numeric: bool = False
    drop: int = 0


@dataclass
class Table:
    """Header, rows of cell strings, a block of lines above (what the rows are about) and notes below."""

    columns: list[Column]
    rows: list[list[str]]
    title: str = ""
    preamble: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shows_all: str = "--format md shows all"  # where the columns a narrow terminal leaves out are: a flag the command has

    def __post_init__(self) -> None:
        """Every row has one cell per column (a ragged row would render a broken Markdown table)."""
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"row {i} has {len(row)} cells for {len(self.columns)} columns")

    def markdown(self) -> str:
        """GitHub-flavoured Markdown: optional heading, preamble lines, the table, notes as a list."""
        lines = [f"### {md_text(self.title)}", ""] if self.title else []
        for line in self.preamble:  # each its own paragraph (or list item), so renderers never merge them
            lines += [md_text(line)] if line.startswith("- ") else [md_text(line), ""]
        if self.preamble and lines[-1] != "":
            lines.append("")
        lines.append("| " + " | ".join(_md_cell(c.name) for c in self.columns) + " |")
        lines.append("|" + "|".join("---:" if c.numeric else "---" for c in self.columns) + "|")
        lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in self.rows]
        if self.notes:
            lines += ["", *(f"- {md_text(n)}" for n in self.notes)]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        """The header and rows as CSV (no preamble, no notes)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([csv_cell(c.name) for c in self.columns])
        writer.writerows([csv_cell(cell) for cell in row] for row in self.rows)
        return buf.getvalue()

    def terminal(self, width: int | None = None) -> str:
        """A rich table that fits `width` columns (default: the terminal's, or 80 off a terminal)."""
        from rich.console import Console
        from rich.table import Table as RichTable
        from rich.text import Text

        width = width or _terminal_width()
        keep = list(range(len(self.columns)))
        dropped: list[str] = []
        while _natural_width([self.columns[i] for i in keep], [[row[i] for i in keep] for row in self.rows]) > width:
            candidates = [i for i in keep if self.columns[i].drop > 0]
            if not candidates:
                break
            worst = max(candidates, key=lambda i: (self.columns[i].drop, i))
            keep.remove(worst)
            dropped.append(self.columns[worst].name)
        table = RichTable(title=Text(self.title) if self.title else None, title_justify="left", show_lines=False)
        for i in keep:
            column = self.columns[i]
            table.add_column(Text(column.name), justify="right" if column.numeric else "left", no_wrap=True)
        for row in self.rows:
            table.add_row(*(Text(row[i]) for i in keep))  # literal text: a name like "[/x]" is not markup
        natural = _natural_width([self.columns[i] for i in keep], [[row[i] for i in keep] for row in self.rows])
        # Never narrower than the kept cells: a cell is never folded onto a second line (text lines still wrap at `width`).
        console = Console(width=max(width, natural), record=True, color_system=None, force_terminal=False)
        with console.capture() as capture:
            for line in self.preamble:  # text lines wrap at the width; table rows never do
                console.print(line, markup=False, highlight=False, width=width)
            console.print(table)
            for note in self.notes:
                console.print(note, markup=False, highlight=False, width=width)
            if dropped:
                console.print(f"(columns left out to fit {width} columns: {', '.join(dropped)}; {self.shows_all})", markup=False)
        return capture.get()


# Only what could start raw HTML or an entity is escaped, so prose such as "p < 0.05" stays as written.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?\w+;)")
_FORMULA_START = ("=", "+", "-", "@", "\t")


def md_text(text: str) -> str:
    r"""A line of Markdown text that cannot start new lines, rows or HTML: whitespace flattened, tags and entities escaped.

    >>> md_text("model\n| x | y |<script>&amp; p < 0.05")
    'model | x | y |&lt;script>&amp;amp; p < 0.05'
    """
    return _TAG_START.sub("&lt;", _ENTITY.sub("&amp;", " ".join(str(text).split())))


def _md_cell(text: str) -> str:
    """A cell that cannot break the row: pipes escaped, line breaks and runs of spaces flattened, no raw HTML."""
    return md_text(str(text).replace("\\", "\\\\").replace("|", "\\|")) or " "


def csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading formula character is quoted with `'`, numbers stay numbers.

    >>> [csv_cell(x) for x in ("=HYPERLINK(1)", "-0.25", "@sum", "plain", "-")]
    ["'=HYPERLINK(1)", '-0.25', "'@sum", 'plain', '-']
    """
    # The writer ends lines with "\n" and so quotes cells holding one, but not a lone "\r", which readers and
    # spreadsheets take as a line break: a name holding one would start a new row.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) < 2 or not text.startswith(_FORMULA_START):  # "-" alone (an empty cell's mark) is text to a spreadsheet
        return text
    try:
        float(text)
    except ValueError:
        return "'" + text
    return text


def _natural_width(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> int:
    """Width of a rich table with these cells unwrapped: cells plus 3 per column of borders and padding, plus 1."""
    widths = [len(c.name) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], _cell_width(cell))
    return sum(widths) + 3 * len(columns) + 1


def _cell_width(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.split("\n")), default=0)


UNLIMITED = 100_000  # the width of output that is not a terminal: nothing to fit


def _terminal_width() -> int:
    if sys.stdout.isatty():
        return shutil.get_terminal_size((80, 24)).columns
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else UNLIMITED
