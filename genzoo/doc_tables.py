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


def replace_rows(name: str, tables: str, path: Path | None = None) -> Path:
    """Replace, between marker ``name``'s lines, the rows of the first cells in ``tables`` (markdown tables
    separated by blank lines; each table's header must be there already); a first cell without a row in its
    table (a newly shipped checkpoint) gets one at the table's end. Re-measuring some rows leaves the others
    as their last full run wrote them."""
    path = page_with(name) if path is None else path
    head, block, tail = _around(path, name)
    lines = block.split("\n")
    for table in tables.split("\n\n"):
        header, _, *rows = table.split("\n")
        if header not in lines:
            raise ValueError(f"{path} has no table headed {header!r} between the {name} markers: rebuild the "
                             "tables (no names)")
        first = lines.index(header)
        for row in rows:
            cell = row.split(" | ")[0] + " |"  # "| `name` |"
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
