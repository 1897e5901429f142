"""The transformers engine: stock-greedy parity, sampling distribution, log-probs, stops."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.data import Sample
from rlvr.models.tokens import pad_pairs, token_logprobs
from rlvr.rollout import HFEngine, SamplingParams, render_prompt
from rlvr.rollout.hf import decode, nucleus, sample_rows


@pytest.fixture(scope="module")
def engine(tiny_model: Path) -> HFEngine:
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    return HFEngine(model, AutoTokenizer.from_pretrained(tiny_model), batch_size=64)


def _samples(k: int) -> list[Sample]:
    return [Sample(f"What is {i} + {2 * i + 1}?", str(3 * i + 1), "math") for i in range(k)]


def test_greedy_output_equals_stock_generate(engine: HFEngine) -> None:
    samples = _samples(16)
    groups = engine.generate(
        samples, n=1, sampling=SamplingParams(max_new_tokens=12, temperature=0)
    )
    tok, model = engine.tokenizer, engine.model
    tok.padding_side = "left"
    texts = [render_prompt(tok, s.prompt) for s in samples]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    stock = model.generate(
        **enc,
        max_new_tokens=12,
        do_sample=False,
        pad_token_id=tok.pad_token_id,
        eos_token_id=engine.eos,
    )[:, enc["input_ids"].shape[1] :]
    for row, group in enumerate(groups):
        ids = group.completion_ids[0]
        assert list(ids) == stock[row, : len(ids)].tolist()
        if group.finish_reasons[0] == "length":
            assert len(ids) == 12
        else:
            assert ids[-1] in engine.eos


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sampling_logprobs_equal_the_trainers(engine: HFEngine, temperature: float) -> None:
    params = SamplingParams(max_new_tokens=10, temperature=temperature, seed=3)
    groups = engine.generate(_samples(4), n=4, sampling=params)
    pairs = [(list(g.prompt_ids), list(ids)) for g in groups for ids in g.completion_ids]
    batch = pad_pairs(pairs, pad_id=engine.tokenizer.pad_token_id)
    with torch.no_grad():
        trainer = token_logprobs(engine.model, batch, temperature=temperature)[0]  # [N, L-1]
    mask = batch.completion_mask[:, 1:].bool()
    sampled = torch.tensor([lp for g in groups for row in g.logprobs for lp in row])
    torch.testing.assert_close(trainer[mask], sampled, atol=1e-5, rtol=0)


def test_first_token_frequencies_follow_the_model(tiny_model: Path) -> None:
    # A random tiny model is near-uniform over 512 tokens; a scaled LM head makes the
    # distribution peaked enough for 4000 draws to measure it.
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    with torch.no_grad():
        model.lm_head.weight.mul_(25.0)
    engine = HFEngine(model, AutoTokenizer.from_pretrained(tiny_model), batch_size=4000)
    n = 4000
    groups = engine.generate(
        _samples(1), n=n, sampling=SamplingParams(max_new_tokens=1, temperature=1.5, seed=11)
    )
    drawn = torch.tensor([ids[0] for ids in groups[0].completion_ids])
    ids = torch.tensor([groups[0].prompt_ids])
    with torch.no_grad():
        probs = torch.softmax(model(input_ids=ids).logits[0, -1] / 1.5, dim=-1)
    assert float(probs.max()) > 0.05 and int((probs > 0.01).sum()) < 60
    freq = torch.bincount(drawn, minlength=probs.numel()).double() / n
    tv = 0.5 * float((freq - probs.double()).abs().sum())
    assert tv < 0.04  # greedy would be about 0.2 here


def test_sample_rows_never_draws_a_zero_mass_index() -> None:
    torch.manual_seed(0)
    probs = torch.tensor([[0.0, 0.25, 0.0, 0.75, 0.0]]).expand(20000, 5)
    drawn = sample_rows(probs)
    counts = torch.bincount(drawn, minlength=5)
    assert counts[0] == counts[2] == counts[4] == 0
    assert abs(float(counts[3]) / 20000 - 0.75) < 0.02
    unnormalised = torch.tensor([[0.0, 2.0, 6.0]]).expand(20000, 3)
    assert abs(float((sample_rows(unnormalised) == 2).double().mean()) - 0.75) < 0.02


def test_top_p_keeps_draws_inside_the_nucleus(engine: HFEngine) -> None:
    sample = _samples(1)[0]
    groups = engine.generate(
        [sample], n=256, sampling=SamplingParams(max_new_tokens=1, top_p=0.3, seed=5)
    )
    ids = torch.tensor([groups[0].prompt_ids])
    with torch.no_grad():
        probs = torch.softmax(engine.model(input_ids=ids).logits[0, -1], dim=-1)
    order = probs.argsort(descending=True)
    cum = probs[order].cumsum(0)
    nucleus = set(order[: int((cum < 0.3).sum()) + 1].tolist())
    assert {ids_[0] for ids_ in groups[0].completion_ids} <= nucleus


def test_seeded_rollouts_repeat_and_stop_reasons_match_tokens(engine: HFEngine) -> None:
    params = SamplingParams(max_new_tokens=8, seed=21)
    a = engine.generate(_samples(3), n=4, sampling=params)
    b = engine.generate(_samples(3), n=4, sampling=params)
    assert [g.completion_ids for g in a] == [g.completion_ids for g in b]
    for g in a:
        for ids, lps, reason in zip(g.completion_ids, g.logprobs, g.finish_reasons, strict=True):
            assert len(ids) == len(lps) and all(lp <= 0 for lp in lps)
            assert (reason == "stop") == (ids[-1] in engine.eos)
            assert reason == "stop" or len(ids) == 8


def test_prefill_once_per_prompt_samples_like_expanded_prompts(engine: HFEngine) -> None:
    # decode's repeats=n against decoding each prompt repeated n times
    tok = engine.tokenizer
    tok.padding_side = "left"
    texts = [render_prompt(tok, s.prompt) for s in _samples(3)]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    common = {"max_new_tokens": 10, "eos": engine.eos, "pad_id": tok.pad_token_id}
    torch.manual_seed(3)
    expanded = decode(
        engine.model,
        enc["input_ids"].repeat_interleave(4, dim=0),
        enc["attention_mask"].repeat_interleave(4, dim=0),
        **common,
    )
    torch.manual_seed(3)
    once = decode(engine.model, enc["input_ids"], enc["attention_mask"], repeats=4, **common)
    assert once.sequences.shape == expanded.sequences.shape == (12, enc["input_ids"].shape[1] + 10)
    assert torch.equal(once.sequences, expanded.sequences)
    torch.testing.assert_close(once.logprobs, expanded.logprobs, atol=1e-5, rtol=0)


def test_nucleus_keeps_the_smallest_set_reaching_top_p() -> None:
    # probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.75 needs the first two (0.8), 0.81 the first
    # three; 0.1 keeps only the most likely token
    scores = torch.tensor([[0.5, 0.05, 0.3, 0.15]]).log()
    kept = {p: torch.isfinite(nucleus(scores, p))[0].tolist() for p in (0.1, 0.75, 0.81)}
    assert kept[0.1] == [True, False, False, False]
    assert kept[0.75] == [True, False, True, False]
    assert kept[0.81] == [True, False, True, True]
    assert nucleus(scores, 1.0) is scores


def test_decode_ignores_the_models_generation_defaults(engine: HFEngine) -> None:
    # a repetition penalty in the model's generation config would change what the trainer's
    # log-probabilities describe; the engine applies SamplingParams only
    params = SamplingParams(max_new_tokens=8, seed=4)
    before = engine.generate(_samples(2), n=3, sampling=params)
    engine.model.generation_config.repetition_penalty = 3.0
    try:
        after = engine.generate(_samples(2), n=3, sampling=params)
    finally:
        engine.model.generation_config.repetition_penalty = 1.0
    assert [g.completion_ids for g in before] == [g.completion_ids for g in after]
