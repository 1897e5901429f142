"""The learned reward source: scores from the policy's ids equal scores of the text, a reward
model with another tokenizer re-tokenises (and says so once), mixing and normalisation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from rlvr.config.sections import LearnedRewardConfig, ModelConfig
from rlvr.data.types import RolloutGroup, Sample
from rlvr.models.reward_head import load_reward_backbone, load_reward_model, score_texts
from rlvr.models.tiny import PRESETS, build_tiny
from rlvr.rewards.learned import LearnedReward, completions, correlation, normalise


def _reward_model(base: Path, out: Path) -> Path:
    torch.manual_seed(0)
    model, tokenizer, _ = load_reward_backbone(ModelConfig(str(base)))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    return _reward_model(tiny_model, tmp_path_factory.mktemp("rm") / "rm")


def _group(tokenizer: object, prompt: str, texts: list[str], *, stop: bool = True) -> RolloutGroup:
    enc = tokenizer(  # type: ignore[operator]
        [prompt, *texts], add_special_tokens=False
    )["input_ids"]
    eos = tokenizer.eos_token_id  # type: ignore[attr-defined]
    ids = tuple(tuple(x) + ((eos,) if stop else ()) for x in enc[1:])
    return RolloutGroup(
        Sample(prompt, "4", "math"),
        tuple(enc[0]),
        ids,
        tuple(tuple(0.0 for _ in x) for x in ids),
        tuple(texts),
        tuple("stop" if stop else "length" for _ in texts),
    )


def test_policy_ids_score_as_the_text_does(
    tiny_model: Path, reward_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    cfg = LearnedRewardConfig(path=str(reward_dir), batch_size=2)
    learned = LearnedReward(cfg, policy_tokenizer=tokenizer, device="cpu")
    assert learned.from_ids and capsys.readouterr().out == ""
    texts = ["2 + 2 = 4. The answer is \\boxed{4}.", "5", ""]
    rows = completions([_group(tokenizer, "What is 2 + 2?", texts)])
    model, rm_tokenizer = load_reward_model(str(reward_dir))
    expected = score_texts(model, rm_tokenizer, ["What is 2 + 2?"] * 3, texts)
    assert learned.score(rows) == pytest.approx(expected, abs=1e-5)
    # a completion cut at the token limit is scored with the EOS it lacks, like a finished one
    cut = completions([_group(tokenizer, "What is 2 + 2?", texts, stop=False)])
    assert learned.score(cut) == pytest.approx(expected, abs=1e-5)
    assert learned.score([]) == []


def test_another_tokenizer_retokenises_the_text_and_says_so_once(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = build_tiny(tmp_path / "other", dataclasses.replace(PRESETS["tiny"], corpus_size=500))
    rm = _reward_model(other, tmp_path / "rm-other")
    policy_tok = AutoTokenizer.from_pretrained(tiny_model)
    assert policy_tok.get_vocab() != AutoTokenizer.from_pretrained(rm).get_vocab()
    learned = LearnedReward(
        LearnedRewardConfig(path=str(rm)), policy_tokenizer=policy_tok, device="cpu"
    )
    out = capsys.readouterr().out
    assert not learned.from_ids and out.count("re-tokenised from their text") == 1
    texts = ["2 + 2 = 4.", "5"]
    scores = learned.score(completions([_group(policy_tok, "What is 2 + 2?", texts)]))
    model, rm_tok = load_reward_model(str(rm))
    assert scores == pytest.approx(score_texts(model, rm_tok, ["What is 2 + 2?"] * 2, texts))
    assert capsys.readouterr().out == ""  # said once, when built


def test_mix_normalises_over_kept_rows_and_weights(reward_dir: Path, tiny_model: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    cfg = LearnedRewardConfig(path=str(reward_dir), weight=0.5)
    learned = LearnedReward(cfg, policy_tokenizer=tokenizer, device="cpu")
    raw = torch.tensor([1.0, 3.0, 100.0])
    mask = torch.tensor([True, True, False])
    verifier = torch.tensor([0.0, 1.0, 0.0])
    total, metrics = learned.mix(verifier.clone(), raw, verifier, mask, 1)
    # kept rows 1 and 3: mean 2, std sqrt(2) -> whitened -1/sqrt(2), +1/sqrt(2); weight 0.5
    half = 0.5 / 2**0.5
    assert total[:2].tolist() == pytest.approx([-half, 1 + half], abs=1e-5)
    assert metrics["reward/model_mean"] == 2.0 and metrics["reward/model_max"] == 3.0
    assert metrics["reward/model_verifier_corr"] == pytest.approx(1.0)
    assert normalise(raw, mask, "none") is raw
    log_only = dataclasses.replace(cfg, weight=0.0)
    learned.cfg = log_only
    assert torch.equal(learned.mix(verifier.clone(), raw, verifier, mask, 1)[0], verifier)
    assert correlation(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0])) == 0.0


def test_group_normalisation_drops_each_prompts_offset() -> None:
    # two prompts x 3 samples; prompt 2's scores are prompt 1's shifted by +10
    raw = torch.tensor([1.0, 2.0, 3.0, 11.0, 12.0, 13.0])
    mask = torch.ones(6, dtype=torch.bool)
    out = normalise(raw, mask, "group", 3)
    centred = torch.tensor([-1.0, 0.0, 1.0, -1.0, 0.0, 1.0])
    assert out.tolist() == pytest.approx((centred / centred.std()).tolist(), abs=1e-5)
    assert out[:3].tolist() == pytest.approx(out[3:].tolist())  # the offset is gone
    # batch whitening keeps it: every sample of the low prompt is below every one of the high
    assert float(normalise(raw, mask, "batch")[:3].max()) < 0


def test_group_normalisation_masked_and_lone_rows() -> None:
    # prompt 1: rows 0-1 kept (mean 2), row 2 masked; prompt 2: only row 3 kept (a lone sample)
    raw = torch.tensor([1.0, 3.0, 1000.0, 7.0, float("nan"), -5.0])
    mask = torch.tensor([True, True, False, True, False, False])
    out = normalise(raw, mask, "group", 3)
    assert out[2] == 0 and out[3] == 0 and out[4] == 0 and out[5] == 0
    assert out[:2].tolist() == pytest.approx([-(2**0.5) / 2, 2**0.5 / 2], abs=1e-5)  # / std(-1, 1)
    assert torch.isfinite(out).all()
    with pytest.raises(ValueError, match="groups of 4"):
        normalise(raw, mask, "group", 4)
