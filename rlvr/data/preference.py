"""Preference rows: pairwise (DPO, IPO, SimPO, ORPO, reward models) and unpaired (KTO), loaded
from files or datasets in TRL's formats, or generated from verifiable tasks.

Stable API, for the preference trainers (`dpo`, `reward_model`) and for scripts:
  - `load_preference(source, split=, limit=) -> PreferenceRows`: pairwise or unpaired rows
    (whichever the first row is; a dataset holds one kind) with where each came from;
  - `load_pairs(...)` / `load_unpaired(...)`: the same, refusing the other kind;
  - `unpair(pairs)`: each pair as a desirable and an undesirable row (TRL's
    `unpair_preference_dataset`), for KTO on pairwise data;
  - `arithmetic_pref(n, seed=, ...)`: synthetic pairs (chosen = a correct worked solution,
    rejected = a plausible wrong one) with an optional planted `bias` and label `noise`;
  - `generate_preference(task, n, seed=, options=)` and `PREFERENCE_GENERATORS`;
  - `preference_rows(cfg: DataConfig) -> (PreferenceRows, fingerprint)`: what a config names;
  - `write_preference_jsonl(rows, path)`, `pair_row(pair)`, `unpaired_row(row)`.
The row types are `PreferencePair` and `UnpairedPreference` (`rlvr.data.types`).

Row formats (TRL's "preference" and "unpaired preference" formats, so existing datasets load
unchanged), from JSONL or anything `rlvr.data.loading.iter_rows` reads (HF `datasets`):
  - pairwise, explicit prompt: `{"prompt", "chosen", "rejected"}`; the prompt is text or chat
    messages, each completion text or a list holding one assistant message;
  - pairwise, implicit prompt: `{"chosen", "rejected"}` only, both text or both chats; the
    prompt is their longest common prefix (whole messages for chats; for text, the shared
    characters, a space right before the first difference going to the completions);
  - unpaired: `{"prompt", "completion", "label"}` with `label` a bool (true = desirable);
  - optional on every row: `id`, and `reference` + `verifier` together, naming the verifier
    that can score completions of the prompt (held-out accuracy of greedy generations);
    on pairs, `margin` (a number, TRL's column): the score gap a reward model is asked for.
Bad rows raise `DataError` naming the file and line (or dataset row): a missing `chosen` or
`rejected`, a chosen completion identical to the rejected one, an unpaired row among pairs
(or the reverse), a completion that is not one assistant message.

Implementation details:
  1. Synthetic pairs reuse `rlvr.data.synthetic.arithmetic`, so `split="train"` and
     `split="test"` are disjoint by problem (a hash of the problem, whatever the seeds).
  2. Wrong answers are mistakes a person makes: a dropped carry or borrow, off by one or by
     ten, swapped digits of an operand, the wrong operation, a multiplication-table slip; ones
     with as many digits as the right answer are preferred, so that without a planted bias the
     two sides have the same length in most pairs and length says nothing about preference.
  3. `bias="length"` writes the chosen solution in a longer form that restates its answer
     ("23 + 45 = 68. The answer is \\boxed{68}. The answer is \\boxed{68}.") and the rejected one
     in the short form, so that length alone predicts the preference; `bias="none"` writes both
     sides the same way. The longer form extends the short one, so a policy that writes the
     short form can drift into it: a bias towards text no policy would write could be learned
     by a reward but never show in what the policy generates.
  4. `noise` flips that fraction of pairs (drawn per pair from the generator's own seeded
     random source), after the bias is applied.
  5. `near_miss` replaces a person's mistake with any result near the right one (uniform
     within `near_width`, of any width). Pairwise accuracy on mistakes alone does not make a
     reward model whose best answer is the right one: a model that ranks every planted mistake
     below the right answer can still score 120 above 100 when 100 + 20 is no mistake a person
     makes, and a policy climbing it finds such answers. Near misses cover the answers a
     policy reaches by moving a digit. The draw is taken only when `near_miss` > 0, so pairs
     without it are the same as before the option existed.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rlvr.config.sections import DataConfig
from rlvr.data.loading import (
    DataError,
    _field,
    _messages,
    _prompt,
    _row_id,
    fingerprint,
    iter_rows,
)
from rlvr.data.synthetic import ARITHMETIC_OPS, arithmetic
from rlvr.data.types import Message, PreferencePair, Prompt, Sample, Task, UnpairedPreference

__all__ = [
    "PREFERENCE_GENERATORS",
    "PreferencePair",
    "PreferenceRows",
    "UnpairedPreference",
    "arithmetic_pref",
    "generate_preference",
    "held_out_samples",
    "load_pairs",
    "load_preference",
    "load_unpaired",
    "pair_row",
    "preference_rows",
    "unpair",
    "unpaired_row",
    "write_preference_jsonl",
]

Kind = Literal["paired", "unpaired"]
BIASES = ("none", "length")
"""Values of `arithmetic_pref(bias=...)`."""


@dataclass(frozen=True)
class PreferenceRows:
    """Rows of one kind, and where each came from (`file:line`, `name row i`, `synthetic`)."""

    kind: Kind
    """`paired`: `pairs` holds the rows; `unpaired`: `unpaired` does."""
    pairs: list[PreferencePair] = field(default_factory=list)
    """Pairwise rows (empty when `kind` is `unpaired`)."""
    unpaired: list[UnpairedPreference] = field(default_factory=list)
    """Unpaired rows (empty when `kind` is `paired`)."""
    where: list[str] = field(default_factory=list)
    """Location of each row, for messages."""

    def __len__(self) -> int:
        return len(self.pairs) if self.kind == "paired" else len(self.unpaired)


# ---------------------------------------------------------------------------------------------
# reading rows


def _completion(value: Any, name: str, where: str) -> str:
    """A completion: text, or a list of exactly one assistant message (its content)."""
    if isinstance(value, str):
        if not value:
            raise DataError(f"{where}: field {name!r} is empty")
        return value
    if isinstance(value, list):
        messages = _messages(value, name, where)
        if len(messages) != 1 or messages[0]["role"] != "assistant":
            roles = [m["role"] for m in messages]
            raise DataError(
                f"{where}: field {name!r} must be one assistant message, got roles {roles}"
            )
        if not messages[0]["content"]:
            raise DataError(f"{where}: field {name!r} is an empty assistant message")
        return messages[0]["content"]
    raise DataError(
        f"{where}: field {name!r} must be a string or a list of chat messages, "
        f"got {type(value).__name__}"
    )


def _verifier(row: dict[str, Any], where: str) -> tuple[Any, str | None]:
    reference, verifier = row.get("reference"), row.get("verifier")
    if (reference is None) != (verifier is None):
        missing = "verifier" if verifier is None else "reference"
        raise DataError(f"{where}: 'reference' and 'verifier' go together; {missing!r} is missing")
    if verifier is not None and (not isinstance(verifier, str) or not verifier):
        raise DataError(f"{where}: field 'verifier' must be a non-empty string")
    return reference, verifier


def _implicit_prompt(chosen: Any, rejected: Any, where: str) -> tuple[Prompt, Any, Any]:
    """TRL's implicit-prompt form: the shared prefix of `chosen` and `rejected` is the prompt."""
    if isinstance(chosen, str) and isinstance(rejected, str):
        idx = next(
            (i for i, (a, b) in enumerate(zip(chosen, rejected, strict=False)) if a != b),
            min(len(chosen), len(rejected)),
        )
        if idx > 0 and chosen[idx - 1] == " ":
            idx -= 1
        if chosen == rejected:
            raise DataError(f"{where}: 'chosen' is identical to 'rejected'")
        if idx == 0:
            raise DataError(f"{where}: missing field 'prompt' (and 'chosen'/'rejected' share none)")
        return chosen[:idx], chosen[idx:], rejected[idx:]
    if isinstance(chosen, list) and isinstance(rejected, list):
        c, r = _messages(chosen, "chosen", where), _messages(rejected, "rejected", where)
        idx = next(
            (i for i, (a, b) in enumerate(zip(c, r, strict=False)) if a != b), min(len(c), len(r))
        )
        if c == r:
            raise DataError(f"{where}: 'chosen' is identical to 'rejected'")
        if idx == 0:
            raise DataError(f"{where}: missing field 'prompt' (and the chats share no message)")
        return c[:idx], [dict(m) for m in c[idx:]], [dict(m) for m in r[idx:]]
    raise DataError(
        f"{where}: missing field 'prompt' (an implicit prompt needs 'chosen' and 'rejected' "
        "both strings or both chats)"
    )


def _row_kind(row: dict[str, Any]) -> Kind:
    return "unpaired" if "completion" in row or "label" in row else "paired"


def _pair(row: dict[str, Any], index: int, where: str) -> PreferencePair:
    for name in ("chosen", "rejected"):
        _field(row, name, where)
    if row.get("prompt") is None:
        prompt, chosen_raw, rejected_raw = _implicit_prompt(row["chosen"], row["rejected"], where)
    else:
        prompt, chosen_raw, rejected_raw = _prompt(row, where), row["chosen"], row["rejected"]
    chosen = _completion(chosen_raw, "chosen", where)
    rejected = _completion(rejected_raw, "rejected", where)
    if chosen == rejected:
        raise DataError(f"{where}: 'chosen' is identical to 'rejected'")
    reference, verifier = _verifier(row, where)
    rid = _row_id(row, index, where)
    margin = row.get("margin")
    if margin is not None and (
        isinstance(margin, bool) or not isinstance(margin, int | float) or not math.isfinite(margin)
    ):
        raise DataError(f"{where}: field 'margin' must be a finite number, got {margin!r}")
    return PreferencePair(
        prompt, chosen, rejected, rid, reference, verifier, None if margin is None else margin
    )


def _unpaired(row: dict[str, Any], index: int, where: str) -> UnpairedPreference:
    prompt = _prompt(row, where)
    completion = _completion(_field(row, "completion", where), "completion", where)
    label = _field(row, "label", where)
    if not isinstance(label, bool):
        raise DataError(f"{where}: field 'label' must be a bool, got {type(label).__name__}")
    reference, verifier = _verifier(row, where)
    rid = _row_id(row, index, where)
    return UnpairedPreference(prompt, completion, label, rid, reference, verifier)


def load_preference(
    source: str | Path, *, split: str = "train", limit: int | None = None
) -> PreferenceRows:
    """Pairwise or unpaired preference rows, whichever kind the first row is.

    Args:
        source: A `.jsonl`/`.json`/`.parquet`/`.csv` file, a saved dataset directory, or a hub
            dataset name (as `rlvr.data.loading.load_samples`).
        split: Split of a saved `DatasetDict` or a hub dataset.
        limit: Read at most this many rows.

    Raises:
        DataError: unreadable source, a bad row, rows of both kinds, or no rows at all.
    """
    kind: Kind | None = None
    first = ""
    pairs: list[PreferencePair] = []
    unpaired: list[UnpairedPreference] = []
    where_all: list[str] = []
    for index, (where, row) in enumerate(iter_rows(source, split=split, limit=limit)):
        row_kind = _row_kind(row)
        if kind is None:
            kind, first = row_kind, where
        elif row_kind != kind:
            this = "an unpaired row (completion, label)" if row_kind == "unpaired" else "a pair"
            raise DataError(
                f"{where}: {this} among {kind} rows (the first at {first}); "
                "a dataset holds pairwise or unpaired rows, not both"
            )
        if kind == "paired":
            pairs.append(_pair(row, index, where))
        else:
            unpaired.append(_unpaired(row, index, where))
        where_all.append(where)
    if kind is None:
        raise DataError(f"{source}: no preference rows")
    return PreferenceRows(kind, pairs, unpaired, where_all)


def load_pairs(
    source: str | Path, *, split: str = "train", limit: int | None = None
) -> list[PreferencePair]:
    """Pairwise rows only (see `load_preference`).

    Raises:
        DataError: as `load_preference`, or the rows are unpaired.
    """
    rows = load_preference(source, split=split, limit=limit)
    if rows.kind != "paired":
        raise DataError(
            f"{source}: expected pairwise rows (prompt, chosen, rejected), got unpaired"
        )
    return rows.pairs


def load_unpaired(
    source: str | Path, *, split: str = "train", limit: int | None = None
) -> list[UnpairedPreference]:
    """Unpaired rows; pairwise rows are refused (convert them with `unpair`).

    Raises:
        DataError: as `load_preference`, or the rows are pairs.
    """
    rows = load_preference(source, split=split, limit=limit)
    if rows.kind != "unpaired":
        raise DataError(
            f"{source}: expected unpaired rows (prompt, completion, label), got pairs; "
            "unpair(pairs) turns each pair into a desirable and an undesirable row"
        )
    return rows.unpaired


def unpair(pairs: Sequence[PreferencePair]) -> list[UnpairedPreference]:
    """Each pair as two unpaired rows: the chosen completion desirable, the rejected one not.

    Rows come in pair order (chosen, rejected, chosen, ...), ids `<id>/chosen`, `<id>/rejected`.
    """
    rows = []
    for p in pairs:
        for completion, label, side in (
            (p.chosen, True, "chosen"),
            (p.rejected, False, "rejected"),
        ):
            rows.append(
                UnpairedPreference(
                    p.prompt, completion, label, f"{p.id}/{side}", p.reference, p.verifier
                )
            )
    return rows


def held_out_samples(rows: PreferenceRows) -> list[Sample]:
    """One `Sample` per distinct prompt whose rows name a verifier (first row wins), for
    held-out accuracy of greedy generations; empty when no row names one."""
    seen: dict[Any, Sample] = {}
    items: Iterable[PreferencePair | UnpairedPreference] = (
        rows.pairs if rows.kind == "paired" else rows.unpaired
    )
    for r in items:
        if r.verifier is not None and r.prompt not in seen:
            seen[r.prompt] = Sample(r.prompt, r.reference, r.verifier, id=r.id)
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# synthetic pairs


def _wrong_answers(a: int, op: str, b: int, answer: int) -> list[int]:
    """Plausible wrong results of `a op b` (detail 2), each different from `answer`, >= 0."""
    da, db = str(a), str(b)
    width = max(len(da), len(db))
    pa, pb = da.zfill(width), db.zfill(width)
    candidates = [answer + 1, answer - 1, answer + 10, answer - 10]
    swapped = int(da[::-1])
    if op == "+":
        no_carry = int("".join(str((int(x) + int(y)) % 10) for x, y in zip(pa, pb, strict=True)))
        candidates += [no_carry, swapped + b, abs(a - b)]
    elif op == "-":
        no_borrow = int("".join(str(abs(int(x) - int(y))) for x, y in zip(pa, pb, strict=True)))
        candidates += [no_borrow, abs(swapped - b), a + b]
    else:
        candidates += [answer + a, answer - a, answer + b, answer - b, swapped * b]
    wrong = sorted({c for c in candidates if c >= 0 and c != answer})
    same_width = [c for c in wrong if len(str(c)) == len(str(answer))]
    return same_width or wrong or [answer + 1]


def _near_answers(answer: int, width: int) -> list[int]:
    """Every result within `width` of `answer` other than it, >= 0 (detail 5)."""
    return [c for c in range(max(0, answer - width), answer + width + 1) if c != answer]


def _solution(a: int, op: str, b: int, result: int, *, long: bool) -> str:
    answer = f"The answer is \\boxed{{{result}}}."
    if not long:
        return f"{a} {op} {b} = {result}. {answer}"
    return f"{a} {op} {b} = {result}. {answer} {answer}"


def _operands(task: Task) -> tuple[int, str, int]:
    """`a, op, b` of an arithmetic task, read from its solution `"a op b = answer. ..."`."""
    a, op, b = task.solution.split(" = ", 1)[0].split()
    return int(a), op, int(b)


def arithmetic_pref(
    n: int,
    *,
    seed: int,
    digits: int = 2,
    ops: Sequence[str] = ARITHMETIC_OPS,
    chat: bool = False,
    split: str = "all",
    bias: str = "none",
    noise: float = 0.0,
    near_miss: float = 0.0,
    near_width: int = 20,
) -> list[PreferencePair]:
    """Arithmetic preference pairs: chosen = a correct worked solution, rejected = a wrong one.

    Args:
        n: Number of pairs.
        seed: Seed of the generator's own random source (problems, mistakes, flips).
        digits, ops, chat, split: As `rlvr.data.synthetic.arithmetic` (`split` train/test are
            disjoint by problem).
        bias: `none`, or `length`: the chosen side is always the longer one (detail 3).
        noise: Fraction of pairs flipped (chosen and rejected swapped), in [0, 1].
        near_miss: Fraction of pairs, in [0, 1], whose wrong answer is any number within
            `near_width` of the right one (detail 5) instead of a person's mistake.
        near_width: Largest distance of a near-miss answer from the right one (>= 1).

    Returns:
        `n` pairs with ids `pref-<seed>-<i>`, reference the correct answer, verifier `math`.

    Raises:
        ValueError: a bad option.

    >>> pair = arithmetic_pref(1, seed=0, ops=["+"])[0]
    >>> pair.chosen, pair.reference
    ('63 + 15 = 78. The answer is \\\\boxed{78}.', '78')
    """
    if bias not in BIASES:
        raise ValueError(f"bias must be one of {BIASES}, got {bias!r}")
    for name, value in (("noise", noise), ("near_miss", near_miss)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    if isinstance(near_width, bool) or not isinstance(near_width, int) or near_width < 1:
        raise ValueError(f"near_width must be an integer >= 1, got {near_width!r}")
    tasks = arithmetic(n, seed=seed, digits=digits, ops=ops, chat=chat, split=split)
    rng = random.Random(f"arithmetic-pref:{seed}")
    pairs = []
    for i, task in enumerate(tasks):
        a, op, b = _operands(task)
        answer = int(task.sample.reference)
        if near_miss and rng.random() < near_miss:
            wrong = rng.choice(_near_answers(answer, near_width))
        else:
            wrong = rng.choice(_wrong_answers(a, op, b, answer))
        chosen = _solution(a, op, b, answer, long=bias == "length")
        rejected = _solution(a, op, b, wrong, long=False)
        if rng.random() < noise:
            chosen, rejected = rejected, chosen
        s = task.sample
        pairs.append(
            PreferencePair(s.prompt, chosen, rejected, f"pref-{seed}-{i}", s.reference, s.verifier)
        )
    return pairs


PREFERENCE_GENERATORS: dict[str, Callable[..., list[PreferencePair]]] = {
    "arithmetic-pref": arithmetic_pref,
}
"""Synthetic preference task name -> generator of pairs; each takes `(n, *, seed)`."""


def generate_preference(
    task: str, n: int, *, seed: int, options: Mapping[str, Any] | None = None
) -> PreferenceRows:
    """`n` synthetic pairs of `task`, or `2n` unpaired rows with the option `unpaired: true`.

    Raises:
        ValueError: unknown task, or an option its generator does not take.
    """
    if task not in PREFERENCE_GENERATORS:
        known = ", ".join(PREFERENCE_GENERATORS)
        raise ValueError(f"unknown synthetic preference task {task!r}; known: {known}")
    opts = dict(options or {})
    as_unpaired = opts.pop("unpaired", False)
    if not isinstance(as_unpaired, bool):
        raise ValueError(f"option 'unpaired' must be a bool, got {as_unpaired!r}")
    try:
        pairs = PREFERENCE_GENERATORS[task](n, seed=seed, **opts)
    except TypeError as exc:
        raise ValueError(f"bad options for synthetic task {task!r}: {exc}") from exc
    where = f"synthetic {task}"
    if as_unpaired:
        rows = unpair(pairs)
        return PreferenceRows(
            "unpaired", unpaired=rows, where=[f"{where} row {r.id}" for r in rows]
        )
    return PreferenceRows("paired", pairs=pairs, where=[f"{where} row {p.id}" for p in pairs])


def preference_rows(cfg: DataConfig) -> tuple[PreferenceRows, str]:
    """The preference rows a data section names, and their fingerprint for the run manifest."""
    if cfg.synthetic is not None:
        rows = generate_preference(cfg.synthetic, cfg.n, seed=cfg.seed, options=cfg.options)
        options = ",".join(f"{k}={v}" for k, v in sorted(cfg.options.items()))
        return rows, f"synthetic:{cfg.synthetic}:n={cfg.n}:seed={cfg.seed}:{options}"
    assert cfg.source is not None
    return load_preference(cfg.source, split=cfg.split, limit=cfg.n), fingerprint(cfg.source)


# ---------------------------------------------------------------------------------------------
# writing rows


def _prompt_value(prompt: Prompt) -> str | list[Message]:
    return prompt if isinstance(prompt, str) else [dict(m) for m in prompt]


def _completion_value(prompt: Prompt, text: str) -> str | list[Message]:
    return text if isinstance(prompt, str) else [{"role": "assistant", "content": text}]


def _extras(row: PreferencePair | UnpairedPreference) -> dict[str, Any]:
    if row.verifier is None:
        return {}
    return {"reference": row.reference, "verifier": row.verifier}


def pair_row(pair: PreferencePair) -> dict[str, Any]:
    """The JSON row of a pair, in TRL's preference format (chat prompts get chat completions)."""
    return {
        "id": pair.id,
        "prompt": _prompt_value(pair.prompt),
        "chosen": _completion_value(pair.prompt, pair.chosen),
        "rejected": _completion_value(pair.prompt, pair.rejected),
        **_extras(pair),
        **({} if pair.margin is None else {"margin": pair.margin}),
    }


def unpaired_row(row: UnpairedPreference) -> dict[str, Any]:
    """The JSON row of an unpaired row, in TRL's unpaired preference format."""
    return {
        "id": row.id,
        "prompt": _prompt_value(row.prompt),
        "completion": _completion_value(row.prompt, row.completion),
        "label": row.label,
        **_extras(row),
    }


def write_preference_jsonl(rows: PreferenceRows, path: str | Path) -> Path:
    """One row a line (`pair_row` or `unpaired_row`); parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    items = (
        [pair_row(p) for p in rows.pairs]
        if rows.kind == "paired"
        else [unpaired_row(r) for r in rows.unpaired]
    )
    with path.open("w", encoding="utf-8") as out:
        for item in items:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    return path
