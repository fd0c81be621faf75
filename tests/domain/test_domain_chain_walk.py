"""The one chain walk (domain/chain_walk.py), the floor's and the platform's, on links made here."""

from __future__ import annotations

import attrs

from domain.chain import GENESIS, canonical_content, link_columns
from domain.chain_walk import Link, fill_link, walk, walk_to_first_problem


def _chain(n: int) -> list[dict[str, object]]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        row: dict[str, object] = {"seq": seq, "record_id": f"fill-{seq}", "station": "S1", "flags": []}
        row.update(link_columns(prev, canonical_content(row)))
        rows.append(row)
        prev = str(row["hash"])
    return rows


def _links(rows: list[dict[str, object]]) -> list[Link]:
    return [fill_link(r) for r in rows]


def test_an_intact_chain_counts_its_links_with_or_without_a_head() -> None:
    rows = _chain(3)
    assert walk_to_first_problem("fill", _links(rows)).count == 3
    report = walk_to_first_problem("fill", _links(rows), (3, str(rows[-1]["hash"])))
    assert (report.ok, report.count) == (True, 3)


def test_a_fork_a_gap_and_an_edit_are_named() -> None:
    rows = _chain(4)
    forked = [*rows[:2], {**rows[1], "record_id": "fill-2b"}, *rows[2:]]
    report = walk_to_first_problem("fill", _links(forked))
    assert (report.ok, report.first_bad_seq, "forked" in report.problem) == (False, 2, True)
    gap = walk_to_first_problem("fill", _links([rows[0], *rows[2:]]))
    assert (gap.first_bad_seq, gap.problem) == (2, "fill #2 is missing (the chain goes on at #3, fill-3)")
    edited = _links(rows)
    edited[2] = attrs.evolve(edited[2], content_now=edited[2].content.replace("S1", "S2"))
    problems = [p.problem for p in walk("fill", edited)]
    assert problems == ["fill #3 (fill-3) was altered: its fields differ from its content (station)"]


def test_a_head_past_the_last_link_names_the_missing_end() -> None:
    rows = _chain(2)
    report = walk_to_first_problem("fill", _links(rows), (3, "f" * 64))
    assert (report.first_bad_seq, report.problem) == (3, "fill #3 is missing (the chain ends at #3)")
