"""Link each glossary term at its first use in a lesson: ``python scripts/link_glossary.py``.

``GLOSSARY.md`` has one ``## Term`` heading per term, and GitHub and the course site both give
that heading an anchor (``## Hit ratio`` -> ``#hit-ratio``). JupyterLab does not: its Markdown
viewer names a heading in the heading's own case (``Hit-ratio``), so a link to ``#hit-ratio``
would open the glossary at its top. So each heading has, on the line before it, an explicit anchor
of the same name, ``<a id="hit-ratio"></a>``, which JupyterLab keeps (its sanitizer turns ``id``
into the ``data-jupyter-id`` it looks a fragment up by; it drops ``<a name=...>``), and which
GitHub and the site keep too. The script adds that line to a new term (``anchor_glossary``).

This script finds, in each lesson,
the first time a term is *used* and makes those words a link,
``[hit ratio](../GLOSSARY.md#hit-ratio)``, changing nothing else: only the text of markdown
cells, never code, outputs or metadata. It is safe to run again (a term already linked at its
first use is left alone), and it prints every link it adds, so a human can read them.

What counts as a use (the same rules ``tests/test_glossary.py`` checks):

- the words of ``TERMS[anchor]`` below (regular expressions: plurals and inflections are listed
  there), matched case-insensitively as whole words, a space in a pattern matching any
  whitespace, line breaks included;
- in the *prose* of a lesson's markdown cells only: not in code (fenced blocks, inline code),
  math (``$...$``, ``$$...$$``), headings, HTML, URLs, nor in the text of a link (the text of a
  glossary link is a use of the term it links to, and of no other); and not in the References
  cell, whose titles cite, not use;
- where two terms' words overlap ("cache hit ratio"), the longer match is linked first, and the
  shorter term's first use is then its next occurrence outside that link.

    python scripts/link_glossary.py                     # every lesson (and the glossary's anchors)
    python scripts/link_glossary.py lessons/08_*.ipynb  # only these
    python scripts/link_glossary.py --check             # change nothing; exit 1 if one is missing
                                                        # (a link, or an anchor in GLOSSARY.md)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Iterable, NamedTuple, Optional

REPO = Path(__file__).resolve().parents[1]
GLOSSARY = REPO / "GLOSSARY.md"
LESSONS = REPO / "lessons"
LINK_TARGET = "../GLOSSARY.md"  # from lessons/NN_slug.ipynb

TERMS: dict[str, list[str]] = {
    # anchor in GLOSSARY.md: the words that are a use of it
    "atomic-operation": [r"atomic(?:ally)?"],
    "cache-hit": [r"cache hits?", r"hits?"],
    "cache-key": [r"cache keys?"],
    "cache-miss": [r"cache miss(?:es)?", r"miss(?:es|ed)?"],
    "cache-aside": [r"cache-aside", r"look-aside"],
    "cache-control": [r"Cache-Control"],
    "cdn": [r"CDNs?"],
    "circuit-breaker": [r"circuit breakers?"],
    "cold-and-warm-caches": [r"(?:cold|warm) caches?", r"cold starts?"],
    "consistent-hashing": [r"consistent hashing"],
    "coordinated-omission": [r"coordinated omission"],
    "covering-index": [r"covering index(?:es)?"],
    "delete-on-write": [r"delete-on-write"],
    "early-refresh-xfetch": [r"early refresh(?:es)?", r"XFetch"],
    "eviction": [r"evict(?:s|ed|ing|ion|ions)?"],
    "fail-closed": [r"fail(?:s|ing)?[ -]\*?closed\*?"],
    "fail-open": [r"fail(?:s|ing)?[ -]\*?open\*?"],
    "fake-clock": [r"fake clocks?", r"virtual clocks?"],
    "gil": [r"GIL"],
    "gutter-pool": [r"Gutter(?: pools?)?"],
    "hash-slot": [r"hash slots?"],
    "hash-tag": [r"hash tags?"],
    "hit-ratio": [r"hit ratios?", r"hit rates?"],
    "hot-key": [r"hot keys?"],
    "idempotent": [r"idempotent"],
    "in-process-cache": [r"(?:in|per)-process caches?", r"in-memory caches?"],
    "invalidation": [r"invalidat(?:e|es|ed|ing|ion|ions)"],
    "jitter": [r"jitter(?:ed)?"],
    "key-prefix": [r"(?:key |learner )?prefix(?:es)?"],
    "knee": [r"knees?"],
    "latency": [r"latenc(?:y|ies)"],
    "lease": [r"leases?"],
    "lfu-least-frequently-used": [r"LFU", r"\*?least frequently\*? used"],
    "littles-law": [r"Little's law"],
    "load-budget": [r"(?:database-)?load budgets?"],
    "load-shedding": [r"load shedding", r"shed(?:s|ding)? load"],
    "lock": [r"locks?"],
    "lost-invalidation": [r"lost invalidations?"],
    "lru-least-recently-used": [r"LRU", r"least recently used"],
    "median": [r"medians?"],
    "miss-ratio-curve": [r"miss-ratio curves?"],
    "near-cache": [r"near caches?", r"client-side caching"],
    "negative-caching": [r"negative caching"],
    "open-loop-and-closed-loop": [r"\*?(?:open|closed)\*?[- ]loops?"],
    "page-cache": [r"page caches?"],
    "parameterized-query": [r"parameteri[sz]ed (?:SQL|quer(?:y|ies))"],
    "percentile-p95-p99": [r"percentiles?", r"p(?:50|90|95|99)"],
    "poisson-process": [r"Poisson"],
    "query-plan": [r"query plans?"],
    "race-condition": [r"race conditions?", r"races?"],
    "replica-lag": [r"replicas?", r"replication lag"],
    "round-trip": [r"round[ -]trips?"],
    "scan-resistance": [r"scan[ -]resist(?:ance|ant)"],
    "serialization": [r"seriali[sz]\w*", r"JSON", r"pickle"],
    "service-time": [r"service times?"],
    "single-flight": [r"single-flight"],
    "stale-fraction": [r"stale fractions?"],
    "stale-read": [r"stale reads?"],
    "stale-if-error": [r"stale-if-error"],
    "stale-while-revalidate": [r"stale-while-revalidate"],
    "staleness-age": [r"staleness ages?"],
    "staleness-budget": [r"staleness budgets?"],
    "stampede": [r"stampedes?", r"thundering herds?", r"herds?", r"dog-?piles?"],
    "tail-latency": [r"tail latenc(?:y|ies)", r"latency tails?", r"(?<!cold\s)tails?"],
    "throughput": [r"throughputs?"],
    "ttl-time-to-live": [r"TTLs?", r"time to live"],
    "versioned-key": [r"versioned keys?"],
    "worker-process": [r"worker process(?:es)?"],
    "working-set": [r"working sets?"],
    "write-through": [r"write-through"],
    "zipf-popularity": [r"Zipf(?:-like)?"],
}
"""Every ``## Term`` of GLOSSARY.md, by its anchor, with the words that count as using it."""

# What is not prose, leftmost first (so a link's text containing `code` stays one link).
_NOT_PROSE = re.compile(
    r"(?P<fence>^(?:```|~~~).*?^(?:```|~~~)[^\n]*$)"
    r"|(?P<heading>^#{1,6}[ \t][^\n]*$)"
    r"|(?P<dmath>\$\$.+?\$\$)"
    r"|(?P<code>`+[^`]*?`+)"
    r"|(?P<image>!\[[^\]\n]*\]\([^)\n]*\))"
    r"|(?P<link>\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]*)(?:\s+\"[^\"]*\")?\))"
    r"|(?P<math>\$[^$]+?\$)"
    r"|(?P<autolink><https?://[^>\s]+>)"
    r"|(?P<url>https?://[^\s)>\]]+)"
    r"|(?P<html><[A-Za-z/!][^>\n]*>)",
    re.MULTILINE | re.DOTALL,
)


class Use(NamedTuple):
    """One use of a term in a lesson: where, which words, and whether it is a glossary link."""

    cell: int  # index among the notebook's cells
    start: int  # offset in the cell's text
    end: int
    anchor: str
    linked: bool  # a link to GLOSSARY.md#anchor (True) or plain words (False)


def slug(title: str) -> str:
    """The anchor GitHub and MyST give a heading: lower case, punctuation gone, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def glossary_anchors(path: Path = GLOSSARY) -> list[str]:
    """The anchors of the glossary's terms (its ``## `` headings), in order."""
    text = path.read_text(encoding="utf-8")
    return [slug(title) for title in re.findall(r"^## (.+?)\s*$", text, flags=re.MULTILINE)]


_ANCHOR_LINE = re.compile(r'^<a id="[^"]*"></a>\s*$')


def anchor_line(anchor: str) -> str:
    """The explicit anchor that stands on the line before a term's heading."""
    return f'<a id="{anchor}"></a>'


def anchor_glossary(text: str) -> str:
    r"""The glossary's text with each ``## `` heading preceded by its ``anchor_line``.

    A heading that has the right line before it is left alone; a wrong or missing one is
    replaced, so the anchor follows a renamed term. Nothing else changes.

    >>> anchor_glossary("intro\n\n## Hit ratio\n\nHits per lookup.\n")
    'intro\n\n<a id="hit-ratio"></a>\n## Hit ratio\n\nHits per lookup.\n'
    """
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    for line in lines:
        heading = re.match(r"## (.+?)\s*$", line)
        if heading:
            if out and _ANCHOR_LINE.match(out[-1]):
                out.pop()
            out.append(anchor_line(slug(heading.group(1))) + "\n")
        out.append(line)
    return "".join(out)


def _compiled() -> list[tuple[str, re.Pattern]]:
    compiled = []
    for anchor, patterns in TERMS.items():
        for pattern in patterns:
            words = pattern.replace(" ", r"\s+")
            compiled.append((anchor, re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)))
    return compiled


PATTERNS = _compiled()
GLOSSARY_LINK = re.compile(rf"^{re.escape(LINK_TARGET)}#(?P<anchor>[^\s#]+)$")


def cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def is_references(text: str) -> bool:
    return text.lstrip().startswith("## References")


def prose_spans(text: str) -> Iterable[tuple[int, int]]:
    """The (start, end) offsets of the prose in a markdown text (see the module's rules)."""
    position = 0
    for match in _NOT_PROSE.finditer(text):
        if match.start() > position:
            yield position, match.start()
        position = match.end()
    if position < len(text):
        yield position, len(text)


def glossary_links(text: str) -> Iterable[tuple[int, int, str]]:
    """(start, end, anchor) of every link to the glossary in a markdown text."""
    for match in _NOT_PROSE.finditer(text):
        if match.group("link"):
            target = GLOSSARY_LINK.match(match.group("target"))
            if target:
                yield match.start(), match.end(), target.group("anchor")


def glossary_targets(text: str) -> list[str]:
    """Every ``GLOSSARY.md#anchor`` a markdown text links to (from anywhere, by any path)."""
    anchors = []
    for match in _NOT_PROSE.finditer(text):
        if match.group("link"):
            target = match.group("target")
            if re.search(r"(?:^|/)GLOSSARY\.md#", target):
                anchors.append(target.split("#", 1)[1])
    return anchors


def uses(cells: list[dict]) -> list[Use]:
    """Every use of every term in a notebook's markdown prose, in reading order."""
    found = []
    for index, cell in enumerate(cells):
        text = cell_text(cell)
        if cell.get("cell_type") != "markdown" or is_references(text):
            continue
        for start, end, anchor in glossary_links(text):
            found.append(Use(index, start, end, anchor, True))
        for span_start, span_end in prose_spans(text):
            piece = text[span_start:span_end]
            for anchor, pattern in PATTERNS:
                for match in pattern.finditer(piece):
                    start, end = span_start + match.start(), span_start + match.end()
                    found.append(Use(index, start, end, anchor, False))
    return sorted(found, key=lambda use: (use.cell, use.start, -(use.end - use.start)))


def first_uses(cells: list[dict]) -> dict[str, Use]:
    """Each used term's first use: the earliest, and of two at one place the longer."""
    first: dict[str, Use] = {}
    for use in uses(cells):
        first.setdefault(use.anchor, use)
    return first


def unlinked_first_uses(cells: list[dict]) -> dict[str, Use]:
    """The terms whose first use is plain words, not a link to the glossary."""
    return {anchor: use for anchor, use in first_uses(cells).items() if not use.linked}


def link_first_uses(cells: list[dict]) -> list[tuple[str, str]]:
    """Link every term at its first use, in place; return [(anchor, the words linked)]."""
    added = []
    while True:
        missing = unlinked_first_uses(cells)
        if not missing:
            return added
        # The longest words first: "hit ratio" before "hit", so the shorter one moves on.
        use = max(missing.values(), key=lambda u: (u.end - u.start, -u.cell, -u.start))
        cell = cells[use.cell]
        text = cell_text(cell)
        words = text[use.start : use.end]
        text = f"{text[: use.start]}[{words}]({LINK_TARGET}#{use.anchor}){text[use.end :]}"
        cell["source"] = text.splitlines(keepends=True)
        added.append((use.anchor, words))


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _save(path: Path, notebook: dict) -> None:
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", type=Path, help="default: every lesson")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if missing")
    args = parser.parse_args(argv)
    known = set(glossary_anchors())
    unknown = sorted(set(TERMS) - known)
    if unknown or known - set(TERMS):
        print(
            f"error: TERMS and GLOSSARY.md disagree: not in the glossary {unknown}, "
            f"no words for {sorted(known - set(TERMS))}",
            file=sys.stderr,
        )
        return 2
    glossary_text = GLOSSARY.read_text(encoding="utf-8")
    anchored = anchor_glossary(glossary_text)
    missing_any = anchored != glossary_text
    if missing_any and args.check:
        print(f"{GLOSSARY.name}: a term's heading lacks its anchor line {anchor_line('...')}")
    elif missing_any:
        GLOSSARY.write_text(anchored, encoding="utf-8")
        print(f"{GLOSSARY.name}: anchored each term's heading")
        missing_any = False
    paths = args.lessons or sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        notebook = _load(path)
        if args.check:
            missing = unlinked_first_uses(notebook["cells"])
            for anchor, use in missing.items():
                words = cell_text(notebook["cells"][use.cell])[use.start : use.end]
                print(f"{path.name}: cell {use.cell}: {words!r} is not linked to #{anchor}")
            missing_any = missing_any or bool(missing)
            continue
        added = link_first_uses(notebook["cells"])
        if added:
            _save(path, notebook)
        for anchor, words in added:
            print(f"{path.name}: linked {words!r} -> #{anchor}")
    return 1 if missing_any else 0


if __name__ == "__main__":
    sys.exit(main())
