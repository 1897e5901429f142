"""Value functions for PPO: a separate value model, or a value head on the policy.

- A separate critic is transformers' `AutoModelForTokenClassification` with one label: a
  causal-LM body (from a reward model's `final/` or the SFT model) and a linear `score` head that
  reads every position's last hidden state. It reads the policy's token ids, so its tokenizer
  must be the policy's (`check_critic`).
- A value head is a `Linear(hidden, 1)` attached to the policy as the submodule `v_head`, read
  from the policy's last hidden state (one forward pass gives log-probabilities and values, and
  the value loss trains the shared body too). It starts at zero, or from a reward model's scalar
  head, whose hidden size must then be the policy's.

Implementation details:
  1. Values are aligned with the log-probabilities of `rlvr.models.tokens.token_logprobs`: the
     value of completion token `t` is read at position `t - 1`, the state before it is sampled.
  2. The token classifier's dropout (`classifier_dropout`, 0.1 by default in transformers) is
     set to 0: a value function's targets are regression targets, and dropout noise on them only
     adds variance.
  3. A model directory holding a value head stores it as `v_head.*` tensors beside the policy's
     (a checkpoint); `policy_weights` drops them for the weights a rollout engine or `final/`
     gets, so those load as a plain causal LM.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

from rlvr.models.tokens import TokenBatch, token_logprobs

VALUE_HEAD = "v_head"
"""Name of the value-head submodule on the policy, and prefix of its tensors."""


class CriticError(ValueError):
    """A critic that cannot work with the policy (another tokenizer, another hidden size)."""


def check_critic(path: str, policy_path: str, *, head: bool) -> None:
    """Refuse, in one line, a critic at `path` whose tokenizer is not the one of the policy at
    `policy_path`, or (for a value head started from `path`) whose hidden size differs.

    Raises:
        CriticError: the mismatch, naming both sides.
    """
    tokenizer, policy = (
        AutoTokenizer.from_pretrained(path),
        AutoTokenizer.from_pretrained(policy_path),
    )
    if tokenizer.get_vocab() != policy.get_vocab() or tokenizer.eos_token_id != policy.eos_token_id:
        raise CriticError(
            f"critic.path {path!r}: its tokenizer differs from the policy's (vocabulary "
            f"{len(tokenizer)} vs {len(policy)} tokens, EOS {tokenizer.eos_token_id} vs "
            f"{policy.eos_token_id}); the critic reads the policy's token ids"
        )
    hidden = int(AutoConfig.from_pretrained(path).hidden_size)
    policy_hidden = int(AutoConfig.from_pretrained(policy_path).hidden_size)
    if head and hidden != policy_hidden:
        raise CriticError(
            f"critic.path {path!r}: hidden size {hidden} differs from the policy's "
            f"{policy_hidden}; a value head on the policy reads the policy's hidden states"
        )


def load_value_model(path: str, *, dtype: str = "float32", trust_remote_code: bool = False) -> Any:
    """A one-label token classifier started from `path` (a reward model or a causal LM)."""
    before = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # the change of head is expected, not news
    try:
        config = AutoConfig.from_pretrained(path, num_labels=1, trust_remote_code=trust_remote_code)
        config.classifier_dropout = 0.0  # implementation detail 2
        model = AutoModelForTokenClassification.from_pretrained(
            path, config=config, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code
        )
    finally:
        transformers.logging.set_verbosity(before)
    return model


def _reward_head_weight(path: str) -> torch.Tensor:
    """The `[1, hidden]` weight of the scalar head of the reward model at `path`."""
    tensors: dict[str, torch.Tensor] = {}
    for file in sorted(Path(path).glob("*.safetensors")):
        tensors.update(load_file(str(file)))
    found = [t for name, t in tensors.items() if name.endswith("score.weight") and t.shape[0] == 1]
    if len(found) != 1:
        raise CriticError(
            f"critic.path {path!r} has no one-label scalar head (score.weight) to start the "
            "value head from: give a reward model's final/ directory, or null for zeros"
        )
    return found[0]


def attach_value_head(model: Any, init_from: str | None) -> torch.nn.Linear:
    """Give `model` a `v_head` submodule, zero or copied from a reward model's head."""
    hidden = int(model.config.hidden_size)
    dtype = next(model.parameters()).dtype
    head = torch.nn.Linear(hidden, 1, dtype=dtype)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        if init_from is not None:
            head.weight.copy_(_reward_head_weight(init_from).to(dtype))
    setattr(model, VALUE_HEAD, head)
    return head


def value_head(model: Any) -> tuple[torch.nn.Module, torch.nn.Module] | None:
    """`(value head, LM head)` of a policy with a value head (what `policy_pass` takes), else
    None."""
    head = getattr(model, VALUE_HEAD, None)
    return None if head is None else (head, model.get_output_embeddings())


def load_value_head(model: Any, path: str | Path) -> None:
    """Load the `v_head.*` tensors a checkpoint at `path` holds into `model.v_head`."""
    tensors: dict[str, torch.Tensor] = {}
    for file in sorted(Path(path).glob("*.safetensors")):
        tensors.update(load_file(str(file)))
    prefix = VALUE_HEAD + "."
    state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    getattr(model, VALUE_HEAD).load_state_dict(state)


def policy_weights(
    pairs: Iterable[tuple[str, torch.Tensor]],
) -> Iterator[tuple[str, torch.Tensor]]:
    """`pairs` without the value head's tensors (implementation detail 3); consumes them all,
    so a collective (ZeRO-3) iterator is walked to its end on every rank."""
    for name, tensor in pairs:
        if not name.startswith(VALUE_HEAD + "."):
            yield name, tensor


@contextmanager
def _lm_head_inputs(lm_head: torch.nn.Module) -> Iterator[list[torch.Tensor]]:
    """The inputs the LM head gets while the block runs (the last hidden states it reads)."""
    seen: list[torch.Tensor] = []
    handle = lm_head.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    try:
        yield seen
    finally:
        handle.remove()


def policy_pass(
    model: Any,
    batch: TokenBatch,
    *,
    start: int,
    temperature: float,
    share_prefix: bool,
    head: tuple[torch.nn.Module, torch.nn.Module] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Log-probs `[B, W]` and logits `[B, W, V]` of the tokens at columns `start..L-1`
    (`token_logprobs`), and with `head = (value head, the policy's LM head)` their values
    `[B, W]`, read from the hidden states the LM head gets (implementation detail 1), so the
    shared-prefix pass serves the values too."""
    if head is None:
        lp, logits = token_logprobs(
            model, batch, temperature=temperature, start=start, share_prefix=share_prefix
        )
        return lp, logits, None
    with _lm_head_inputs(head[1]) as seen:
        lp, logits = token_logprobs(
            model, batch, temperature=temperature, start=start, share_prefix=share_prefix
        )
    if len(seen) == 1:  # one pass over the whole rows: positions start-1 .. L-1
        hidden = seen[0][:, :-1]  # [B, W, H]
    else:  # the shared prefix once per run of rows, then every row's tail
        prefix = batch.input_ids[:, :start]  # [B, S]
        runs = torch.cat([prefix.new_zeros(1), (prefix[1:] != prefix[:-1]).any(1).long().cumsum(0)])
        hidden = torch.cat([seen[0][:, -1:][runs], seen[1][:, :-1]], dim=1)  # [B, W, H]
    return lp, logits, head[0](hidden).squeeze(-1).float()


def build_critic(
    kind: str, policy: Any, *, start: str | None, checkpoint: Path | None, dtype: str, trust: bool
) -> Any:
    """The separate critic (`kind == "separate"`), or None after giving `policy` a value head
    (`"head"`); from `start` for a new run (for a head: the reward model whose head it copies,
    or None for zeros), or from the run's `checkpoint` when resuming."""
    if kind == "head":
        attach_value_head(policy, start if checkpoint is None else None)
        if checkpoint is not None:
            load_value_head(policy, checkpoint)
        return None
    assert start is not None or checkpoint is not None
    path = str(checkpoint / "critic") if checkpoint is not None else str(start)
    return load_value_model(path, dtype=dtype, trust_remote_code=trust).train()


@contextmanager
def without_value_head(model: Any) -> Iterator[None]:
    """`model` without its value head for the duration (e.g. to save it as a plain causal LM)."""
    head = getattr(model, VALUE_HEAD, None)
    if head is None:
        yield
        return
    delattr(model, VALUE_HEAD)
    try:
        yield
    finally:
        setattr(model, VALUE_HEAD, head)


def token_values(model: Any, batch: TokenBatch, *, start: int) -> torch.Tensor:
    """Values of the tokens at columns `start..L-1` from a one-label token classifier,
    `[B, L - start]` float32 (implementation detail 1)."""
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    return out.logits[:, start - 1 : -1, 0].float()  # type: ignore[no-any-return]
