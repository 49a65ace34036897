"""One table model, rendered to every text format the harness writes: terminal, GitHub Markdown, CSV.

Every table (a run's scores, several runs side by side, a comparison, quant-compare, a checkpoint
trend) is built as a `Table` and rendered here, so Markdown is valid everywhere at once: cells
and headers have `|` escaped and line breaks flattened, numeric columns are right-aligned, and
the delimiter row always has as many cells as the header. A terminal table is fitted to the
terminal's width (80 columns when it is not a terminal) by dropping the least important columns
first, never by wrapping rows; the columns left out are named under it.
"""

from __future__ import annotations

import csv
import io
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Column", "Table"]


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

    def __post_init__(self) -> None:
        """Every row has one cell per column (a ragged row would render a broken Markdown table)."""
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"row {i} has {len(row)} cells for {len(self.columns)} columns")

    def markdown(self) -> str:
        """GitHub-flavoured Markdown: optional heading, preamble lines, the table, notes as a list."""
        lines = [f"### {self.title}", ""] if self.title else []
        if self.preamble:
            lines += [*self.preamble, ""]
        lines.append("| " + " | ".join(_md_cell(c.name) for c in self.columns) + " |")
        lines.append("|" + "|".join("---:" if c.numeric else "---" for c in self.columns) + "|")
        lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in self.rows]
        if self.notes:
            lines += ["", *(f"- {_md_text(n)}" for n in self.notes)]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        """The header and rows as CSV (no preamble, no notes)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([c.name for c in self.columns])
        writer.writerows(self.rows)
        return buf.getvalue()

    def terminal(self, width: int | None = None) -> str:
        """A rich table that fits `width` columns (default: the terminal's, or 80 off a terminal)."""
        from rich.console import Console
        from rich.table import Table as RichTable

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
        table = RichTable(title=self.title or None, title_justify="left", show_lines=False)
        for i in keep:
            column = self.columns[i]
            table.add_column(column.name, justify="right" if column.numeric else "left", overflow="fold")
        for row in self.rows:
            table.add_row(*(row[i] for i in keep))
        console = Console(width=width, record=True, color_system=None, force_terminal=False)
        with console.capture() as capture:
            for line in self.preamble:  # text lines wrap at the width; table rows never do
                console.print(line, markup=False, highlight=False)
            console.print(table)
            for note in self.notes:
                console.print(note, markup=False, highlight=False)
            if dropped:
                console.print(f"(columns left out to fit {width} columns: {', '.join(dropped)}; --format md shows all)", markup=False)
        return capture.get()


def _md_text(text: str) -> str:
    return " ".join(str(text).split())


def _md_cell(text: str) -> str:
    """A cell that cannot break the row: pipes escaped, line breaks and runs of spaces flattened."""
    return _md_text(text).replace("\\", "\\\\").replace("|", "\\|") or " "


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


def _terminal_width() -> int:
    if sys.stdout.isatty():
        return shutil.get_terminal_size((80, 24)).columns
    return 80
