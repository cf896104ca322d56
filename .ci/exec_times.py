"""Print each chapter's execution time, read from the {nb-exec-table} on the built status page.

The table is filled by myst-nb for every execution mode (force or cache), so this works for CI's
forced build and for a cached local one.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path


class _Table(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_table = False

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("class") == "table":
            self._in_table = True
        elif self._in_table and tag == "tr":
            self.rows.append([])
        elif self._in_table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = False
        elif tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def main(status_html: str) -> int:
    parser = _Table()
    parser.feed(Path(status_html).read_text(encoding="utf-8"))
    if len(parser.rows) < 2:
        print(f"no execution table found in {status_html}")
        return 1
    header = parser.rows[0]
    doc, secs, method, ok = (header.index(k) for k in ("Document", "Run Time (s)", "Method", "Status"))
    total = 0.0
    for row in parser.rows[1:]:
        total += float(row[secs])
        print(f"{float(row[secs]):9.1f} s  {row[doc]:30s} {row[method]:6s} {row[ok]}")
    print(f"{total:9.1f} s  total")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "_build/html/book/status.html"))
