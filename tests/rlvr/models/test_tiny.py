"""Tests for the tiny local tokenizer + Qwen2 model kit."""

from __future__ import annotations

import dataclasses
import gc
import json
import random
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.models.tiny import (
    BUILD_FORMAT,
    CONFIG_FILE,
    EOS_TOKEN,
    IM_END,
    PAD_TOKEN,
    PRESETS,
    TinyModelConfig,
    build_model,
    build_tiny,
    tokenizer_corpus,
    train_tokenizer,
)

CHAT = [{"role": "user", "content": "What is 23 + 45? Put the final answer in \\boxed{}."}]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def tokenizer(built: Path) -> Any:
    return AutoTokenizer.from_pretrained(built)


@pytest.fixture(scope="module")
def model(built: Path) -> Any:
    return AutoModelForCausalLM.from_pretrained(built)


def _random_text(rng: random.Random) -> str:
    """Printable and control characters from every plane, surrogates excluded."""
    pools = [(0x20, 0x7E), (0x00, 0x1F), (0xA0, 0x2FFF), (0x4E00, 0x9FFF), (0x1F300, 0x1FAFF)]
    chars = []
    for _ in range(rng.randint(1, 40)):
        low, high = rng.choice(pools)
        chars.append(chr(rng.randint(low, high)))
    return "".join(chars)


def _always_emit(model: Any, token_id: int) -> None:
    """Rewire the weights so every position's greedy next token is `token_id`.

    All embeddings are one constant vector and every block adds nothing to the residual stream,
    so the final hidden state is the same everywhere; only `token_id`'s output row is non-zero.
    """
    with torch.no_grad():
        model.model.embed_tokens.weight.fill_(1.0)
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.norm.weight.fill_(1.0)
        model.lm_head.weight.zero_()
        model.lm_head.weight[token_id].fill_(1.0)


def test_build_writes_a_hub_style_directory(built: Path) -> None:
    names = {p.name for p in built.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", CONFIG_FILE} <= names
    assert "generation_config.json" in names
    record = json.loads((built / CONFIG_FILE).read_text())
    assert record["config"] == dataclasses.asdict(PRESETS["tiny"])


def test_auto_classes_load_and_generate_from_a_chatml_prompt(tokenizer: Any, model: Any) -> None:
    inputs = tokenizer.apply_chat_template(
        CHAT, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    text = tokenizer.decode(inputs["input_ids"][0])
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    out = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]
    assert int(out.max()) < len(tokenizer)


def test_embeddings_are_untied(model: Any) -> None:
    assert not model.config.tie_word_embeddings
    embed, head = model.model.embed_tokens.weight, model.lm_head.weight
    assert head is not embed
    assert head.data_ptr() != embed.data_ptr()
    assert not torch.equal(head, embed)


def test_parameter_counts_of_the_presets(model: Any) -> None:
    assert 300_000 <= model.num_parameters() <= 1_000_000
    small = PRESETS["small"]
    small_model = build_model(small, train_tokenizer(small))
    assert 3_500_000 <= small_model.num_parameters() <= 5_000_000


def test_every_digit_is_its_own_token(tokenizer: Any) -> None:
    assert len(tokenizer("12345").input_ids) == 5
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("What is 23 + 45 = 68?").input_ids)
    digit_tokens = [t for t in tokens if any(c.isdigit() for c in t)]
    assert digit_tokens == list("234568")


def test_decode_inverts_encode_for_unicode_text(tokenizer: Any) -> None:
    rng = random.Random(0)
    texts = [_random_text(rng) for _ in range(200)]
    texts += ["héllo 世界 🎉\t\r\n  x", "e\u0301 ½ ² ٣", "<|im_end|> literal", " ", ""]
    for text in texts:
        ids = tokenizer(text).input_ids
        assert tokenizer.decode(ids) == unicodedata.normalize("NFC", text)


def test_auto_tokenizer_matches_the_trained_tokenizer(built: Path, tokenizer: Any) -> None:
    trained = Tokenizer.from_file(str(built / "tokenizer.json"))
    rng = random.Random(1)
    texts = tokenizer_corpus(PRESETS["tiny"])[:100] + [_random_text(rng) for _ in range(100)]
    for text in texts:
        assert tokenizer(text).input_ids == trained.encode(text).ids


def test_special_tokens_and_generation_config(tokenizer: Any, model: Any) -> None:
    vocab = tokenizer.get_vocab()
    eos, im_end, pad = vocab[EOS_TOKEN], vocab[IM_END], vocab[PAD_TOKEN]
    assert len({eos, im_end, pad}) == 3
    assert (tokenizer.eos_token_id, tokenizer.pad_token_id) == (eos, pad)
    assert len(tokenizer) == model.config.vocab_size == PRESETS["tiny"].vocab_size
    assert model.config.pad_token_id == pad
    assert model.generation_config.eos_token_id == [eos, im_end]
    assert model.generation_config.pad_token_id == pad


def test_im_end_stops_chat_generation(built: Path, tokenizer: Any) -> None:
    model: Any = AutoModelForCausalLM.from_pretrained(built)
    im_end = tokenizer.get_vocab()[IM_END]
    _always_emit(model, im_end)
    inputs = tokenizer.apply_chat_template(
        CHAT, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**inputs, max_new_tokens=10, do_sample=False)
    assert out[0, inputs["input_ids"].shape[1] :].tolist() == [im_end]


def test_build_is_deterministic(built: Path, tmp_path: Path) -> None:
    again = build_tiny(tmp_path / "again")
    for name in ("tokenizer.json", "model.safetensors", "config.json", CONFIG_FILE):
        assert (again / name).read_bytes() == (built / name).read_bytes(), name


def test_build_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_model(PRESETS["tiny"], train_tokenizer(PRESETS["tiny"]))
    assert torch.equal(torch.rand(3), expected)


def test_existing_build_of_the_same_config_is_reused(built: Path) -> None:
    before = (built / "model.safetensors").stat().st_mtime_ns
    assert build_tiny(built, PRESETS["tiny"]) == built
    assert (built / "model.safetensors").stat().st_mtime_ns == before


def test_build_into_an_empty_directory(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    assert (build_tiny(out) / "model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]


def test_refuses_to_overwrite_a_different_build(built: Path) -> None:
    with pytest.raises(FileExistsError, match="different tiny model build"):
        build_tiny(built, dataclasses.replace(PRESETS["tiny"], seed=1))


def test_refuses_a_damaged_build(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("{")
    with pytest.raises(FileExistsError, match="is not valid JSON"):
        build_tiny(tmp_path)
    record = {"format": BUILD_FORMAT, "config": dataclasses.asdict(PRESETS["tiny"])}
    (tmp_path / CONFIG_FILE).write_text(json.dumps(record))
    with pytest.raises(FileExistsError, match="incomplete build"):
        build_tiny(tmp_path)


def test_refuses_to_overwrite_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        build_tiny(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    with pytest.raises(FileExistsError, match="not a directory"):
        build_tiny(tmp_path / "notes.txt")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vocab_size": 100}, "vocab_size must be at least 260"),
        ({"hidden_size": 130}, "must be divisible by num_attention_heads"),
        ({"hidden_size": 96, "num_attention_heads": 4}, "head_dim .* = 24"),
        ({"num_key_value_heads": 3}, "must divide num_attention_heads"),
        ({"num_hidden_layers": 0}, "num_hidden_layers must be positive"),
        ({"seed": -1}, "seed must be positive"),
        ({"hidden_size": 128.0}, "hidden_size must be an int"),
        ({"corpus_size": True}, "corpus_size must be an int"),
    ],
)
def test_config_validation(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TinyModelConfig(**changes)  # type: ignore[arg-type]


def test_too_small_a_corpus_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="raise corpus_size"):
        train_tokenizer(TinyModelConfig(corpus_size=3))


def test_corpus_mixes_families_and_chatml() -> None:
    corpus = tokenizer_corpus(TinyModelConfig(corpus_size=30))
    assert len(corpus) == 30
    assert sum(text.startswith("<|im_start|>user\n") for text in corpus) == 15
    assert any("```python" in text for text in corpus)
    assert any("```json" in text for text in corpus)
    assert any("\\boxed{" in text for text in corpus)


@pytest.mark.vllm
def test_vllm_loads_the_build_and_matches_hf_greedy(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vllm = pytest.importorskip("vllm")
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    tokenizer = AutoTokenizer.from_pretrained(built)
    hf_model: Any = AutoModelForCausalLM.from_pretrained(built)
    im_end = tokenizer.get_vocab()[IM_END]
    stopper_dir = tmp_path / "stopper"
    _always_emit(hf_model, im_end)
    hf_model.save_pretrained(stopper_dir)
    tokenizer.save_pretrained(stopper_dir)
    hf_model = AutoModelForCausalLM.from_pretrained(built)

    prompts = [
        tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=False),
        "What is 12 * 7? Put the final answer in",
        "Write a Python function add_k(x)",
        '```json\n{"name": "Alice", "age": ',
    ]
    llm = vllm.LLM(model=str(built), enforce_eager=True, dtype="float32", seed=0, max_model_len=256)
    greedy = vllm.SamplingParams(temperature=0.0, max_tokens=12)
    for prompt, result in zip(prompts, llm.generate(prompts, greedy), strict=True):
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        assert list(result.prompt_token_ids) == ids[0].tolist()
        hf = hf_model.generate(ids, max_new_tokens=12, do_sample=False)[0, ids.shape[1] :]
        assert list(result.outputs[0].token_ids) == hf.tolist(), prompt

    del llm
    gc.collect()
    llm = vllm.LLM(model=str(stopper_dir), enforce_eager=True, dtype="float32", seed=0)
    (result,) = llm.generate(prompts[:1], greedy)
    assert list(result.outputs[0].token_ids) == [im_end]
    assert result.outputs[0].finish_reason == "stop"
