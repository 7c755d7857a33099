"""Tables that commands keep true in the front page and the docs/ pages.

Each table lies between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in exactly one page of the checkout
(README.md or docs/*.md); a command names the marker, never the page, so a table can move between pages
without touching the command that writes it.
"""
from __future__ import annotations

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def pages(root: Path = CHECKOUT) -> list[Path]:
    """The pages commands write into: README.md and docs/*.md."""
    return [p for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if p.is_file()]


def page_with(name: str, root: Path = CHECKOUT) -> Path:
    """The one page holding marker ``name``, or an error naming the marker and the pages looked in."""
    start, end = markers(name)
    found = [p for p in pages(root) if start in (text := p.read_text()) and end in text]
    if len(found) != 1:
        where = ", ".join(str(p.relative_to(root)) for p in (found or pages(root))) or f"{root} (no pages)"
        what = "more than one page" if found else "no page"
        raise ValueError(f"{what} holds the markers {start} ... {end} (looked in {where}); --write-readme "
                         "works in a checkout of genzoo, each table in one page")
    return found[0]


def _around(path: Path, name: str) -> tuple[str, str, str]:
    """(text before the start marker, text between the markers, text after the end marker) of ``path``."""
    start, end = markers(name)
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} has no {start} ... {end} markers to put the table between")
    head, rest = text.split(start, 1)
    block, tail = rest.split(end, 1)
    return head, block, tail


def write_block(name: str, text: str, path: Path | None = None) -> Path:
    """Replace what lies between marker ``name``'s lines with ``text`` (in ``path``, else the page holding it)."""
    path = page_with(name) if path is None else path
    head, _, tail = _around(path, name)
    start, end = markers(name)
    path.write_text(f"{head}{start}\n{text}\n{end}{tail}")
    return path


def _first_cell(row: str) -> str:
    return row.split(" | ")[0] + " |"  # "| `name` |"


def _replace_covered_table(lines: list[str], table: str, headers: list[str]) -> bool:
    """In ``lines``, swap for ``table`` the table headed as it, or else one not headed as another of ``headers``,
    whose every row's first cell is among ``table``'s rows (so its rows come out in ``table``'s order); False
    where there is none."""
    header = table.split("\n")[0]
    new_cells = {_first_cell(row) for row in table.split("\n")[2:]}
    starts = [i for i, line in enumerate(lines)
              if line.startswith("|") and (i == 0 or not lines[i - 1].startswith("|"))]
    for start in sorted(starts, key=lambda i: lines[i] != header):  # its own table first
        end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
        old_cells = {_first_cell(row) for row in lines[start + 2:end]}
        if (lines[start] == header or lines[start] not in headers) and old_cells and old_cells <= new_cells:
            lines[start:end] = table.split("\n")
            return True
    return False


def replace_rows(name: str, tables: str, path: Path | None = None) -> Path:
    """Replace, between marker ``name``'s lines, the rows of the first cells in ``tables`` (markdown tables
    separated by blank lines); a first cell without a row in its table (a newly shipped checkpoint) gets one at
    the table's end. Re-measuring some rows leaves the others as their last full run wrote them. A table that
    re-measures every row of one there is written whole, in its own row order, even where its columns changed."""
    path = page_with(name) if path is None else path
    head, block, tail = _around(path, name)
    lines = block.split("\n")
    headers = [t.split("\n")[0] for t in tables.split("\n\n")]
    for table in tables.split("\n\n"):
        header, _, *rows = table.split("\n")
        if _replace_covered_table(lines, table, headers):
            continue
        if header not in lines:
            raise ValueError(f"{path} has no table headed {header!r} between the {name} markers, nor one all of "
                             "whose rows it gives: rebuild the tables (no names, or name every checkpoint of that "
                             "table)")
        first = lines.index(header)
        for row in rows:
            cell = _first_cell(row)
            # the table's rows run to the first blank line (or the end of the block)
            at = next((i for i in range(first + 2, len(lines)) if lines[i].startswith(cell) or not lines[i]),
                      len(lines))
            if at < len(lines) and lines[at].startswith(cell):
                lines[at] = row
            else:
                lines.insert(at, row)
    start, end = markers(name)
    path.write_text(head + start + "\n".join(lines) + end + tail)
    return path
