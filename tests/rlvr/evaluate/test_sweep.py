"""The answer sweep: where the answer sits in a completion, the candidates, and the statistics
against scorers whose best answer is known."""

from __future__ import annotations

import pytest

from rlvr.data.preference import arithmetic_pref
from rlvr.data.types import PreferencePair
from rlvr.evaluate.sweep import answer_places, sweep_rows, sweep_stats, with_answer


def test_answer_places_skip_the_operands_copied_from_the_prompt() -> None:
    prompt, done = "What is 5 + 0?", "5 + 0 = 5. The answer is \\boxed{5}."
    places = answer_places(prompt, done, "5")
    assert len(places) == 2
    assert with_answer(done, places, 7) == "5 + 0 = 7. The answer is \\boxed{7}."
    # a whole number only: 15, 5.5 and 50 are not the answer 5
    assert answer_places("", "15 or 5.5 or 50, then 5.", "5") == [(22, 23)]
    assert answer_places("What is 2 + 3?", "2 + 3 = 6.", "5") == []


def test_rows_take_each_prompt_once_and_keep_answers_non_negative() -> None:
    pairs = arithmetic_pref(30, seed=0, ops=["+", "-"])
    rows, skipped = sweep_rows([*pairs, *pairs], width=3)
    assert skipped == 0 and len(rows) == len({p.prompt for p in pairs})
    for row in rows:
        assert row.candidates == [c for c in range(row.answer - 3, row.answer + 4) if c >= 0]
        right = row.texts[row.candidates.index(row.answer)]
        assert right in {p.chosen for p in pairs}
        assert all(f"\\boxed{{{c}}}" in t for c, t in zip(row.candidates, row.texts, strict=True))
    odd = PreferencePair("What is x?", "x is y.", "x is z.", "o", "y", "math")
    assert sweep_rows([odd], width=2) == ([], 1)
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        sweep_rows(pairs, width=0)


def test_stats_against_scorers_with_known_optima() -> None:
    rows, _ = sweep_rows(arithmetic_pref(40, seed=1, ops=["+"]), width=5)
    right = sweep_stats(
        rows, [[-abs(c - r.answer) for c in r.candidates] for r in rows], width=5, skipped=0
    )
    assert right.top1 == 1.0 and right.above_neighbours == 1.0 and right.mean_rank == 1.0
    assert right.winners == []
    # prefers bigger numbers: +5 always wins, the right answer ranks 6th of 11
    bigger = sweep_stats(rows, [[float(c) for c in r.candidates] for r in rows], width=5, skipped=2)
    assert bigger.top1 == 0.0 and bigger.above_neighbours == 0.0 and bigger.mean_rank == 6.0
    assert bigger.winners == [(5, len(rows))] and bigger.skipped == 2
    # a tie counts against the right answer; beating both neighbours is not beating all
    flat = [[0.0 if abs(c - r.answer) != 3 else 1.0 for c in r.candidates] for r in rows]
    tied = sweep_stats(rows, flat, width=5, skipped=0)
    assert tied.top1 == 0.0 and tied.above_neighbours == 0.0
    line = bigger.format()
    assert "right answer first 0.000" in line and "+5 x40" in line
    assert "no prompt to sweep" in sweep_stats([], [], width=5, skipped=3).format()
