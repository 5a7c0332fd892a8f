"""Showing things: one small table class and the formats the lessons print money and stock in.

Every table in the course -- the shop's rows in lesson 01, lesson 00's checklist,
a race step by step in lesson 06 -- is a ``Table``: a list of dicts that shows as
HTML when it is the last value of a notebook cell, and as aligned text anywhere
else (a terminal, a log, ``make site``'s HTML is the notebook's).

>>> Table([{"product": "kettle", "price": money(2499)}, {"product": "mug", "price": money(899)}])
product  price
-------  ------
kettle   $24.99
mug      $8.99
"""

from __future__ import annotations

import html
from typing import Any, Callable, Iterable, Mapping, Optional

__all__ = ["Table", "money", "availability", "tick"]


class Table:
    """A small table (an iterable of dicts) that shows as HTML in a notebook and as text elsewhere.

    ``highlight`` is a function of a row; rows for which it is true are shaded (the
    rows where a cache disagrees with the database, say). Columns are the dicts'
    keys, in the order they first appear; floats are shown to three decimals at most.
    """

    def __init__(
        self,
        rows: Iterable[Mapping[str, Any]],
        highlight: Optional[Callable[[Mapping[str, Any]], bool]] = None,
    ) -> None:
        self.rows = [dict(row) for row in rows]
        self.columns = list(dict.fromkeys(name for row in self.rows for name in row))
        self.highlight = highlight

    def _shaded(self, row: Mapping[str, Any]) -> bool:
        return bool(self.highlight and self.highlight(row))

    def _repr_html_(self) -> str:
        head = "".join(
            f"<th style='text-align:left'>{html.escape(str(c))}</th>" for c in self.columns
        )
        body = []
        for row in self.rows:
            style = ' style="background:#fde2e1"' if self._shaded(row) else ""
            cells = "".join(
                f"<td style='text-align:left'>{_html_cell(row.get(c, ''))}</td>"
                for c in self.columns
            )
            body.append(f"<tr{style}>{cells}</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"

    def __repr__(self) -> str:
        cells = [[str(c) for c in self.columns]] + [
            [_format(row.get(c, "")) for c in self.columns] for row in self.rows
        ]
        widths = [max(len(line[i]) for line in cells) for i in range(len(self.columns))]
        lines = [
            "  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip()
            for line in cells
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.rows)


def _html_cell(value: Any) -> str:
    """One cell's text, escaped for HTML, line breaks kept."""
    return html.escape(_format(value)).replace("\n", "<br>")


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"
    return str(value)


def money(price_cents: Optional[int]) -> str:
    """``1299`` → ``"$12.99"``; ``None`` → ``"—"`` (nothing there)."""
    return "—" if price_cents is None else f"${price_cents / 100:,.2f}"


def availability(stock: int) -> str:
    """What the product page says about ``stock``: "available (40 in stock)" or "SOLD OUT"."""
    return f"available ({stock} in stock)" if stock > 0 else "SOLD OUT"


def tick(ok: bool) -> str:
    """✅ or ❌: the mark of a checklist row or a budget."""
    return "✅" if ok else "❌"
