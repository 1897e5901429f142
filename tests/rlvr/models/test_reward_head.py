"""Reward heads: a causal LM gets a scalar head, scores are read at the last real token, and a
causal LM offered as a reward model is refused with a way forward."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
)

from rlvr.config.sections import ModelConfig
from rlvr.models.loading import ModelNotFoundError
from rlvr.models.reward_head import (
    RewardHeadConfig,
    RewardModelError,
    is_reward_model,
    load_reward_backbone,
    load_reward_model,
    score_rows,
    score_texts,
    shared_columns,
)


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    torch.manual_seed(0)
    model, tokenizer, new_head = load_reward_backbone(ModelConfig(str(tiny_model)))
    assert new_head
    out = tmp_path_factory.mktemp("rm") / "rm"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_backbone_gets_one_label_head_and_pad_id(tiny_model: Path, reward_dir: Path) -> None:
    model, tokenizer = load_reward_model(str(reward_dir))
    assert model.config.num_labels == 1
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert model.config.architectures == ["Qwen2ForSequenceClassification"]
    assert is_reward_model(str(reward_dir)) and not is_reward_model(str(tiny_model))
    # any HF tool loads it: plain AutoModelForSequenceClassification, same scores
    plain = AutoModelForSequenceClassification.from_pretrained(reward_dir).eval()
    ids = torch.tensor([[5, 6, 7, 8]])
    assert torch.equal(plain(input_ids=ids).logits, model(input_ids=ids).logits)
    # continued training keeps the trained head (no new one)
    _, _, new_head = load_reward_backbone(ModelConfig(str(reward_dir)))
    assert not new_head


def test_score_is_read_at_the_last_real_token(reward_dir: Path) -> None:
    model, tokenizer = load_reward_model(str(reward_dir))
    pad = tokenizer.pad_token_id
    rows = [([5, 6], [7, 8, 9]), ([5], [7])]
    scores = score_rows(model, rows, pad_id=pad, batch_size=2)
    with torch.no_grad():
        alone = [float(model(input_ids=torch.tensor([p + c])).logits[0, 0]) for p, c in rows]
    assert scores == pytest.approx(alone, abs=1e-5)
    # batch size and order do not change a row's score
    assert score_rows(model, rows[::-1], pad_id=pad, batch_size=1) == pytest.approx(
        scores[::-1], abs=1e-5
    )


def test_score_texts_appends_eos_and_scores_empty_completions(reward_dir: Path) -> None:
    model, tokenizer = load_reward_model(str(reward_dir))
    scores = score_texts(model, tokenizer, ["What is 2 + 2?", "What is 2 + 2?"], ["4", ""])
    assert all(torch.isfinite(torch.tensor(scores)))
    prompt, completion = (
        tokenizer(t, add_special_tokens=False)["input_ids"] for t in ("What is 2 + 2?", "4")
    )
    row = [*prompt, *completion, tokenizer.eos_token_id]
    with torch.no_grad():
        direct = model(input_ids=torch.tensor([row])).logits[0, 0]
    assert scores[0] == pytest.approx(float(direct), abs=1e-5)


def test_causal_lm_is_refused_with_how_to_train_one(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(RewardModelError, match=r"Qwen2ForCausalLM: no scalar reward head.*"
                       r"stage: reward_model.*recipes/configs/reward_model"):  # fmt: skip
        load_reward_model(str(tiny_model))
    with pytest.raises(ModelNotFoundError, match=r"a directory without config\.json"):
        load_reward_model(str(tmp_path))


def test_shared_columns_is_the_shortest_pair_prefix_leaving_a_token() -> None:
    # pair 1 shares [1, 2, 3]; pair 2 shares [1, 2]: two columns for the batch
    assert shared_columns([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 7], [1, 2, 8, 9]]) == 2
    # a row that is a prefix of its pair's other row keeps its last token for the second pass
    assert shared_columns([[1, 2, 3], [1, 2, 3, 4]]) == 2
    assert shared_columns([[5], [6]]) == 0


def test_new_blocks_start_as_the_identity(tiny_model: Path) -> None:
    lm = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    model, _, new_head = load_reward_backbone(
        ModelConfig(str(tiny_model)), head=RewardHeadConfig(layers=3, freeze_body=True)
    )
    depth = lm.config.num_hidden_layers
    assert new_head and model.config.num_hidden_layers == depth + 3
    assert len(model.config.layer_types) == depth + 3
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        grown = model.model(input_ids=ids).last_hidden_state
        plain = lm.model(input_ids=ids).last_hidden_state
    torch.testing.assert_close(grown, plain)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {"score.weight", "model.norm.weight"} <= trainable
    blocks = {int(n.split(".")[2]) for n in trainable if n.startswith("model.layers.")}
    assert blocks == {depth, depth + 1, depth + 2}
    assert trainable <= {n for n, _ in model.named_parameters() if not n.startswith("model.embed")}


def test_new_blocks_need_llama_style_blocks(tmp_path: Path, tiny_model: Path) -> None:
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=512))
    gpt2.save_pretrained(tmp_path / "gpt2")
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(tmp_path / "gpt2")
    cfg = ModelConfig(str(tmp_path / "gpt2"))
    with pytest.raises(RewardModelError, match="Llama-style decoders"):
        load_reward_backbone(cfg, head=RewardHeadConfig(layers=1))
    model, _, _ = load_reward_backbone(cfg)  # without new blocks, any classifier class
    assert model.config.num_labels == 1


def test_frozen_body_without_new_blocks_trains_the_norm_and_head(tiny_model: Path) -> None:
    model, _, _ = load_reward_backbone(
        ModelConfig(str(tiny_model)), head=RewardHeadConfig(freeze_body=True)
    )
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"score.weight", "model.norm.weight"}
