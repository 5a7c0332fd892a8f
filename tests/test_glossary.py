"""GLOSSARY.md, and every lesson linking each term it uses there, at its first use.

The rules of what counts as *using* a term are ``scripts/link_glossary.py``'s (which adds the
links), so that the script and this test can never disagree:

- a use is one of the words listed for the term in ``TERMS`` (plurals and inflections listed
  there), matched case-insensitively as whole words, across line breaks;
- only in the prose of markdown cells: not in code, math, headings, HTML, URLs, nor inside the
  text of a link (the text of a glossary link is a use of the term it links to only), and not in
  the References cell (titles cite, they do not use);
- the *first* use is the earliest in reading order; of two overlapping words at one place, the
  longer ("hit ratio" before "hit").

A lesson passes when each term's first use is a link ``../GLOSSARY.md#<anchor>`` and every
glossary link it has points at a term that exists. ``LINKS_PENDING`` names the lessons whose
links have not been added yet (the lead runs ``scripts/link_glossary.py`` on them after merging):
those are *expected* to fail, strictly, so the entry must go once they pass.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import load_module, load_notebook

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))
DOCUMENTS = [REPO / "README.md", REPO / "INSTRUCTORS.md"]


glossary = load_module("link_glossary", REPO / "scripts" / "link_glossary.py")


def _cells(*markdown: str) -> list[dict]:
    return [{"cell_type": "markdown", "metadata": {}, "source": [text]} for text in markdown]


# --- the glossary itself ------------------------------------------------------------------------


def test_every_glossary_term_has_words_and_every_listed_term_is_in_the_glossary():
    anchors = glossary.glossary_anchors()
    assert set(glossary.TERMS) - set(anchors) == set(), "TERMS names terms GLOSSARY.md lacks"
    assert set(anchors) - set(glossary.TERMS) == set(), (
        "GLOSSARY.md has terms with no words in scripts/link_glossary.py's TERMS"
    )


def test_glossary_terms_are_unique_and_in_alphabetical_order():
    text = glossary.GLOSSARY.read_text(encoding="utf-8")
    titles = re.findall(r"^## (.+?)\s*$", text, flags=re.MULTILINE)
    anchors = [glossary.slug(title) for title in titles]
    assert len(anchors) == len(set(anchors)), "two terms share an anchor"
    assert titles == sorted(titles, key=str.lower), "the terms are not in alphabetical order"


def test_every_glossary_term_has_a_definition_of_a_sentence_or_more():
    text = glossary.GLOSSARY.read_text(encoding="utf-8")
    entries = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    for entry in entries:
        title, _, body = entry.partition("\n")
        assert len(body.split()) >= 10 and "." in body, f"{title}: no real definition"


def test_the_glossary_covers_the_terms_the_course_is_built_on():
    # The list, and the terms lessons 08-10 teach.
    needed = [
        "cache-aside", "ttl-time-to-live", "hit-ratio", "stale-read", "staleness-age",
        "invalidation", "delete-on-write", "write-through", "versioned-key", "lease",
        "stampede", "single-flight", "early-refresh-xfetch", "jitter", "stale-while-revalidate",
        "stale-if-error", "negative-caching", "eviction", "lru-least-recently-used",
        "lfu-least-frequently-used", "fail-open", "fail-closed", "circuit-breaker",
        "cold-and-warm-caches", "percentile-p95-p99", "tail-latency", "littles-law",
        "zipf-popularity", "coordinated-omission", "knee", "service-time",
        "open-loop-and-closed-loop", "cache-control",
    ]  # fmt: skip
    missing = sorted(set(needed) - set(glossary.glossary_anchors()))
    assert not missing, f"GLOSSARY.md lacks {missing}"


def test_every_term_has_its_anchor_on_the_line_before_its_heading():
    # JupyterLab names a heading in its own case (Hit-ratio): the explicit anchor is what a
    # lesson's link lands on there (tests/test_browser_glossary.py clicks one).
    lines = glossary.GLOSSARY.read_text(encoding="utf-8").splitlines()
    headings = [(i, line[3:].strip()) for i, line in enumerate(lines) if line.startswith("## ")]
    assert headings
    wrong = [
        title for i, title in headings if lines[i - 1] != f'<a id="{glossary.slug(title)}"></a>'
    ]
    assert not wrong, f"terms without their anchor (run scripts/link_glossary.py): {wrong}"


def test_anchoring_the_glossary_adds_a_missing_anchor_and_follows_a_renamed_term():
    text = '<a id="hit-ratio"></a>\n## Hit rate\n\nHits per lookup.\n\n## Lease\n\nA lock.\n'
    anchored = glossary.anchor_glossary(text)
    assert anchored == (
        '<a id="hit-rate"></a>\n## Hit rate\n\nHits per lookup.\n\n'
        '<a id="lease"></a>\n## Lease\n\nA lock.\n'
    )
    assert glossary.anchor_glossary(anchored) == anchored, "running it again changes nothing"


def test_a_heading_becomes_the_anchor_github_and_the_site_give_it():
    assert glossary.slug("TTL (time to live)") == "ttl-time-to-live"
    assert glossary.slug("Little's law") == "littles-law"
    assert glossary.slug("Percentile (p95, p99)") == "percentile-p95-p99"
    assert glossary.slug("Cache-aside") == "cache-aside"


# --- what counts as a use ----------------------------------------------------------------------


def test_a_use_is_prose_only_not_code_math_headings_links_or_urls():
    cells = _cells(
        "## A TTL in a heading\n"
        "`ttl=60` in code, $TTL$ in math, [a TTL link](https://example.org/ttl),\n"
        "https://example.org/TTL, <b title='TTL'>html</b>\n"
        "```python\ncache.set(key, value, ttl=60)  # TTL\n```\n",
        "And here, at last, a TTL.",
    )
    first = glossary.first_uses(cells)["ttl-time-to-live"]
    assert (first.cell, first.linked) == (1, False)
    assert cells[1]["source"][0][first.start : first.end] == "TTL"


def test_words_are_whole_words_case_insensitive_and_may_break_across_lines():
    found = glossary.first_uses(_cells("A Hit\nRatio of 90 %; hitting is not a hit."))
    assert found["hit-ratio"].start == 2
    assert "cache-miss" not in glossary.first_uses(_cells("a missing package"))
    assert "stampede" in glossary.first_uses(_cells("the herd arrives"))


def test_the_references_cell_is_not_a_use():
    cells = _cells("Nothing here.", "## References\n\n- RFC 5861, *stale-while-revalidate*")
    assert "stale-while-revalidate" not in glossary.first_uses(cells)


def test_the_longer_words_win_where_two_terms_overlap():
    cells = _cells("the hit ratio, and then a hit")
    glossary.link_first_uses(cells)
    text = "".join(cells[0]["source"])
    assert "the [hit ratio](../GLOSSARY.md#hit-ratio)," in text, text
    assert "then a [hit](../GLOSSARY.md#cache-hit)" in text, text


def test_linking_adds_a_link_at_each_first_use_and_changes_nothing_else():
    cells = _cells(
        "Cache-aside, then a TTL.", "A TTL again, and **cache-aside** again, `TTL` in code."
    )
    added = glossary.link_first_uses(cells)
    assert sorted(added) == [("cache-aside", "Cache-aside"), ("ttl-time-to-live", "TTL")]
    assert "".join(cells[0]["source"]) == (
        "[Cache-aside](../GLOSSARY.md#cache-aside), then a [TTL](../GLOSSARY.md#ttl-time-to-live)."
    )
    assert "".join(cells[1]["source"]) == "A TTL again, and **cache-aside** again, `TTL` in code."
    assert glossary.link_first_uses(cells) == [], "running it again adds nothing"


def test_a_term_used_first_without_a_link_is_reported():
    cells = _cells("a TTL first", "then [TTL](../GLOSSARY.md#ttl-time-to-live)")
    assert set(glossary.unlinked_first_uses(cells)) == {"ttl-time-to-live"}


def test_a_link_to_an_anchor_the_glossary_lacks_is_found():
    text = "see [the TTL](../GLOSSARY.md#time-to-love) and [ok](../GLOSSARY.md#lease)"
    assert glossary.glossary_targets(text) == ["time-to-love", "lease"]
    assert set(glossary.glossary_targets(text)) - set(glossary.glossary_anchors()) == {
        "time-to-love"
    }


# --- the lessons -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LESSONS + DOCUMENTS, ids=[p.name for p in LESSONS + DOCUMENTS])
def test_every_glossary_link_points_at_a_term_of_the_glossary(path: Path):
    if path.suffix == ".ipynb":
        texts = [glossary.cell_text(cell) for cell in load_notebook(path)["cells"]]
    else:
        texts = [path.read_text(encoding="utf-8")]
    anchors = set(glossary.glossary_anchors())
    wrong = sorted({a for text in texts for a in glossary.glossary_targets(text)} - anchors)
    assert not wrong, f"{path.name} links glossary anchors that do not exist: {wrong}"


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_term_a_lesson_uses_is_linked_to_the_glossary_at_its_first_use(path: Path):
    cells = load_notebook(path)["cells"]
    missing = glossary.unlinked_first_uses(cells)
    described = [
        f"cell {use.cell}: {glossary.cell_text(cells[use.cell])[use.start : use.end]!r} "
        f"-> #{anchor}"
        for anchor, use in missing.items()
    ]
    assert not missing, (
        f"{path.name} uses glossary terms without linking their first use (run "
        f"python scripts/link_glossary.py {path.relative_to(REPO)}): {described}"
    )
