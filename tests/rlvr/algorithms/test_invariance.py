"""Gradient-accumulation invariance: micro-batches with global normalisers equal the whole batch.

A tiny linear policy scores a ragged batch (lengths 5, 2, 0, 4, 1, 3; one row fully masked). The
whole-batch gradient is compared with the gradient accumulated by ``backward`` over uneven
micro-batches, each trimmed to its own longest sequence, as a trainer with padding-free
micro-batches would run them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from rlvr.algorithms.losses import AggMode, policy_loss, sft_loss, value_loss

F64 = torch.float64
B, T, H, V = 6, 5, 4, 7
LENGTHS = torch.tensor([5, 2, 0, 4, 1, 3])
SPLITS = [[0, 1], [2, 3, 4], [5]]
MODES: list[AggMode] = ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"]

# A loss over rows ``rows`` trimmed to ``t`` tokens, given the whole-batch normalisers.
RowLoss = Callable[[nn.Module, list[int], int, int | None, int | None], Tensor]


def make_batch() -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "feats": torch.randn(B, T, H, generator=g, dtype=F64),
        "actions": torch.randint(0, V, (B, T), generator=g),
        "mask": torch.arange(T)[None, :] < LENGTHS[:, None],  # [B, T]
        "old_shift": 0.4
        * torch.randn(B, T, generator=g, dtype=F64),  # ratios on both sides of clip
        "ref_shift": 0.3 * torch.randn(B, T, generator=g, dtype=F64),
        "advantages": torch.randn(B, generator=g, dtype=F64),
        "returns": torch.randn(B, T, generator=g, dtype=F64),
    }


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(H, V, dtype=F64)


def logprobs_of(model: nn.Module, feats: Tensor, actions: Tensor) -> Tensor:
    logp = torch.log_softmax(model(feats), dim=-1)  # [b, t, V]
    return logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)  # [b, t]


def policy_row_loss(batch: dict[str, Tensor], mode: AggMode) -> RowLoss:
    def loss(
        model: nn.Module, rows: list[int], t: int, tokens: int | None, seqs: int | None
    ) -> Tensor:
        logprobs = logprobs_of(model, batch["feats"][rows, :t], batch["actions"][rows, :t])
        old = logprobs.detach() + batch["old_shift"][rows, :t]
        out, _ = policy_loss(
            logprobs,
            old,
            batch["advantages"][rows],
            batch["mask"][rows, :t],
            eps_low=0.2,
            eps_high=0.28,
            agg_mode=mode,
            norm_len=T,
            global_tokens=tokens,
            global_seqs=seqs,
            ref_logprobs=logprobs.detach() + batch["ref_shift"][rows, :t],
            kl_coef=0.05,
        )
        return out

    return loss


def sft_row_loss(batch: dict[str, Tensor]) -> RowLoss:
    def loss(
        model: nn.Module, rows: list[int], t: int, tokens: int | None, seqs: int | None
    ) -> Tensor:
        logits = model(batch["feats"][rows, :t])
        out, _ = sft_loss(
            logits, batch["actions"][rows, :t], batch["mask"][rows, :t], global_tokens=tokens
        )
        return out

    return loss


def value_row_loss(batch: dict[str, Tensor]) -> RowLoss:
    def loss(
        model: nn.Module, rows: list[int], t: int, tokens: int | None, seqs: int | None
    ) -> Tensor:
        values = model(batch["feats"][rows, :t])[..., 0]  # [b, t], first output as the value head
        old = values.detach() + batch["old_shift"][rows, :t]
        returns, mask = batch["returns"][rows, :t], batch["mask"][rows, :t]
        out, _ = value_loss(values, old, returns, mask, clip_range=0.2, global_tokens=tokens)
        return out

    return loss


def whole_and_accumulated(row_loss: RowLoss, mask: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """Gradients of the whole-batch loss and of the summed micro-batch losses."""
    model = make_model()
    whole = row_loss(model, list(range(B)), T, None, None)
    whole_grads = [g.clone() for g in torch.autograd.grad(whole, list(model.parameters()))]
    tokens, seqs = int(mask.sum()), int((mask.sum(-1) > 0).sum())
    total = torch.zeros((), dtype=F64)
    for rows in SPLITS:
        t = max(int(LENGTHS[rows].max()), 1)
        micro = row_loss(model, rows, t, tokens, seqs)
        micro.backward()
        total = total + micro.detach()
    torch.testing.assert_close(total, whole.detach(), atol=1e-6, rtol=0)
    return whole_grads, [p.grad for p in model.parameters() if p.grad is not None]


def assert_same(first: list[Tensor], second: list[Tensor]) -> None:
    assert len(first) == len(second) == 2
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("mode", MODES)
def test_policy_loss_accumulates_to_the_whole_batch_gradient(mode: AggMode) -> None:
    batch = make_batch()
    whole, accumulated = whole_and_accumulated(policy_row_loss(batch, mode), batch["mask"])
    assert_same(whole, accumulated)


def test_sft_loss_accumulates_to_the_whole_batch_gradient() -> None:
    batch = make_batch()
    assert_same(*whole_and_accumulated(sft_row_loss(batch), batch["mask"]))


def test_value_loss_accumulates_to_the_whole_batch_gradient() -> None:
    batch = make_batch()
    assert_same(*whole_and_accumulated(value_row_loss(batch), batch["mask"]))


@pytest.mark.parametrize("mode", MODES)
def test_whole_batch_counts_equal_the_default_local_counts(mode: AggMode) -> None:
    batch = make_batch()
    loss = policy_row_loss(batch, mode)
    model = make_model()
    mask = batch["mask"]
    local = loss(model, list(range(B)), T, None, None)
    explicit = loss(model, list(range(B)), T, int(mask.sum()), int((mask.sum(-1) > 0).sum()))
    torch.testing.assert_close(local, explicit, atol=1e-6, rtol=0)


def test_local_counts_would_break_accumulation_on_ragged_batches() -> None:
    """Why the normalisers exist: per-micro-batch token means do not add up to the batch mean."""
    batch = make_batch()
    loss = policy_row_loss(batch, "token-mean")
    model = make_model()
    whole = loss(model, list(range(B)), T, None, None)
    averaged = torch.stack([loss(model, rows, T, None, None) for rows in SPLITS]).mean()
    assert abs(float(whole.detach()) - float(averaged.detach())) > 1e-3
