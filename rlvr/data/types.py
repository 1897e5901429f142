"""Typed records that flow through the library. Shapes are given per field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Message = dict[str, str]
"""One chat message: `{"role": "system" | "user" | "assistant", "content": "..."}`."""

Prompt = str | tuple[Message, ...]
"""A plain-text prompt, or chat messages rendered with the tokenizer's chat template."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One RL prompt with what its completions are checked against.

    Routing is per row: `verifier` names the verifier that scores this row, never the dataset.
    """

    prompt: Prompt
    """Plain text, or chat messages (a tuple of `{"role", "content"}` dicts)."""
    reference: Any
    """What the verifier compares against: an answer string, a test spec, a JSON Schema."""
    verifier: str
    """Registered verifier name (`math`, `code`, `json_schema`, ...) or `"pkg.module:Class"`."""
    id: str = ""
    """Stable row id, used to join outputs back to inputs."""


@dataclass(frozen=True, slots=True)
class PreferencePair:
    """One preference row for DPO and reward-model training."""

    prompt: Prompt
    """Plain text or chat messages, as in `Sample`."""
    chosen: str
    """The preferred completion."""
    rejected: str
    """The dispreferred completion."""
    id: str = ""
    """Stable row id."""
    reference: Any = None
    """What a verifier checks completions of this prompt against, when one is known."""
    verifier: str | None = None
    """The verifier of this prompt (`math`, ...), when one is known; None otherwise."""
    margin: float | None = None
    """How much more the chosen side is preferred (TRL's optional `margin` column): a reward
    model is asked for at least this score gap; None when the row gives none."""


@dataclass(frozen=True, slots=True)
class UnpairedPreference:
    """One unpaired preference row (KTO): a completion labelled desirable or not."""

    prompt: Prompt
    """Plain text or chat messages, as in `Sample`."""
    completion: str
    """The completion."""
    label: bool
    """True: a desirable completion; False: an undesirable one."""
    id: str = ""
    """Stable row id."""
    reference: Any = None
    """What a verifier checks completions of this prompt against, when one is known."""
    verifier: str | None = None
    """The verifier of this prompt, when one is known; None otherwise."""


@dataclass(frozen=True, slots=True)
class RolloutGroup:
    """One prompt and its G sampled completions.

    Lists are indexed by sample `g` in `range(G)`; token lists are ragged (no padding).
    """

    sample: Sample
    """The prompt and its reference."""
    prompt_ids: tuple[int, ...]
    """Prompt token ids, `[P]`."""
    completion_ids: tuple[tuple[int, ...], ...]
    """Completion token ids per sample, `G x [T_g]`."""
    logprobs: tuple[tuple[float, ...], ...]
    """Sampling log-probabilities of each completion token under the rollout policy, `G x [T_g]`."""
    texts: tuple[str, ...]
    """Decoded completions, `[G]`."""
    finish_reasons: tuple[str, ...]
    """Per sample: `stop` (EOS or a stop string) or `length` (hit max tokens), `[G]`."""


@dataclass(frozen=True, slots=True)
class Task:
    """A sample and a correct completion for it."""

    sample: Sample
    """The prompt, its reference and the verifier that scores it."""
    solution: str
    """A correct model-style completion for `sample` (scores 1.0 under its verifier)."""
