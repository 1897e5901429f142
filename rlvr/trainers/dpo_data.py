"""Preference rows as token ids for the `dpo` stage, with its truncation policy: prompts longer
than `max_prompt_length` are dropped and counted (an error when none is left), completions are
cut from the end to fit `max_length` and counted; EOS ends every completion. KTO rows carry a
fixed mismatched completion (the next row, in data order, with another prompt) for the KL
baseline. `rlvr.trainers.dpo` re-exports `Encoded` and `encode_rows`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from rlvr.config.sections import DataConfig
from rlvr.data import DataError
from rlvr.data.preference import PreferenceRows, preference_rows, unpair
from rlvr.models.tokens import encode_pairs
from rlvr.trainers.dpo_config import DPOAlgoConfig

Ids = list[int]


@dataclass(frozen=True)
class Encoded:
    """Token ids of preference rows. Pairs: `first` chosen, `second` rejected; unpaired rows:
    `first` the completion, `second` the KL-baseline completion (another prompt's)."""

    prompts: list[Ids]
    """Prompt ids per row."""
    first: list[Ids]
    """Chosen (pairs) or completion (unpaired) ids, EOS included."""
    second: list[Ids]
    """Rejected (pairs) or mismatched KL completion (unpaired) ids."""
    labels: list[bool] | None
    """Unpaired rows: desirable or not; None for pairs."""
    dropped: int
    """Rows dropped for a prompt longer than `max_prompt_length`."""
    truncated: int
    """Rows whose completion was cut to fit `max_length`."""

    def __len__(self) -> int:
        return len(self.prompts)

    def rows(self, idx: list[int]) -> list[tuple[Ids, Ids]]:
        """(prompt, completion) rows of `idx`, interleaved: first 1, second 1, first 2, ..."""
        return [(self.prompts[i], c) for i in idx for c in (self.first[i], self.second[i])]


def _kl_partners(prompts: list[Any]) -> list[int]:
    """For each row, the next row (cyclic, data order) with another prompt; itself if none."""
    n = len(prompts)
    return [
        next((j % n for j in range(i + 1, i + n) if prompts[j % n] != prompts[i]), i)
        for i in range(n)
    ]


def encode_rows(
    tokenizer: Any, rows: PreferenceRows, *, max_length: int, max_prompt_length: int, what: str
) -> Encoded:
    """Tokenize rows with the stage's truncation policy (module docstring); `what` names the
    data in messages.

    Raises:
        DataError: every row's prompt is longer than `max_prompt_length`.
    """
    eos = tokenizer.eos_token_id
    if rows.kind == "paired":
        prompts = [p.prompt for p in rows.pairs]
        a = encode_pairs(tokenizer, prompts, [p.chosen for p in rows.pairs], eos_id=eos)
        b = encode_pairs(tokenizer, prompts, [p.rejected for p in rows.pairs], eos_id=eos)
        labels = None
    else:
        prompts = [r.prompt for r in rows.unpaired]
        a = encode_pairs(tokenizer, prompts, [r.completion for r in rows.unpaired], eos_id=eos)
        b = [(a[i][0], a[j][1]) for i, j in enumerate(_kl_partners(prompts))]
        labels = [r.label for r in rows.unpaired]
    keep = [i for i, (p, _) in enumerate(a) if len(p) <= max_prompt_length]
    dropped = [i for i in range(len(a)) if i not in set(keep)]
    if not keep:
        raise DataError(
            f"{what}: every prompt is longer than train.max_prompt_length ({max_prompt_length} "
            f"tokens): {rows.where[0]} has {len(a[0][0])}"
        )
    if dropped:
        first = ", ".join(rows.where[i] for i in dropped[:3])
        warnings.warn(
            f"{what}: dropped {len(dropped)} of {len(a)} rows whose prompt is longer than "
            f"train.max_prompt_length ({max_prompt_length} tokens), e.g. {first}",
            stacklevel=2,
        )
    room = [max_length - len(a[i][0]) for i in keep]
    truncated = sum(len(a[i][1]) > r or len(b[i][1]) > r for i, r in zip(keep, room, strict=True))
    return Encoded(
        prompts=[a[i][0] for i in keep],
        first=[a[i][1][:r] for i, r in zip(keep, room, strict=True)],
        second=[b[i][1][:r] for i, r in zip(keep, room, strict=True)],
        labels=None if labels is None else [labels[i] for i in keep],
        dropped=len(dropped),
        truncated=truncated,
    )


def load_preference_data(
    cfg: DataConfig, algo: DPOAlgoConfig, what: str
) -> tuple[PreferenceRows, str]:
    """The rows a data section names, in the kind the loss needs (pairs; unpaired for KTO).

    Raises:
        DataError: pairs for KTO without `algo.unpair`, or unpaired rows for a pairwise loss.
    """
    rows, fingerprint = preference_rows(cfg)
    if algo.loss == "kto" and rows.kind == "paired":
        if not algo.unpair:
            raise DataError(
                f"{what}: loss 'kto' trains on unpaired rows (prompt, completion, label) but "
                f"{rows.where[0]} is a pair; set algo.unpair=true to use each pair as a "
                "desirable and an undesirable row"
            )
        unpaired = unpair(rows.pairs)
        where = [w for w in rows.where for _ in (0, 1)]
        return PreferenceRows("unpaired", unpaired=unpaired, where=where), fingerprint
    if algo.loss != "kto" and rows.kind == "unpaired":
        raise DataError(
            f"{what}: loss {algo.loss!r} trains on pairs (prompt, chosen, rejected) but "
            f"{rows.where[0]} is an unpaired row; use loss kto"
        )
    return rows, fingerprint
