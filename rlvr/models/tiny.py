"""Tiny local models: a byte-level BPE tokenizer and a Qwen2-architecture causal LM, built offline.

Nothing is downloaded: `build_tiny(out_dir)` trains a tokenizer on synthetic task text, initialises
a small `Qwen2ForCausalLM` from a seed and saves both in the Hugging Face layout, so that
`AutoTokenizer`, `AutoModelForCausalLM` and vLLM load the directory like any hub checkpoint. Tests
and the default recipes use it in place of a pretrained model.

Implementation details:
  1. Tokenizer: byte-level BPE with exactly Qwen2's pipeline (NFC normaliser, Qwen2's split
     regex, byte-level without prefix space). `AutoTokenizer` and vLLM rebuild that pipeline for
     every `model_type: qwen2` checkpoint and keep only the vocabulary and merges of
     `tokenizer.json`, so any other pipeline would be trained one way and run another. The regex
     isolates every numeral (`\\p{N}`), so no merge ever joins two digits and `"12345"` is five
     tokens. Decoding gives back any NFC-normalised text exactly (other text comes back
     NFC-normalised), since byte-level BPE covers every byte.
  2. Special tokens: `<|endoftext|>` (end of a document, the tokenizer's `eos_token`),
     `<|im_start|>` and `<|im_end|>` (ChatML turns) and a separate `<|pad|>`. Padding with its own
     token keeps masks built from `pad_token_id` from also hiding the end-of-sequence token, which
     would stop a fine-tuned model from ever learning to stop.
  3. Chat: a Qwen2-style ChatML `chat_template` without a default system message (short prompts
     for a tiny model). `generation_config.eos_token_id` lists both `<|endoftext|>` and
     `<|im_end|>`, so text and chat generation both stop, in transformers and in vLLM.
  4. Training text is split at special tokens first, as encoding does, so no merges are spent
     on fragments like `<|im_`.
  5. The tokenizer's vocabulary is exactly `vocab_size`, the model's embedding size: every id a
     model can sample decodes to a real token.
  6. Model: `Qwen2Config` with untied input and output embeddings; weights come from
     `torch.manual_seed(seed)` inside a forked RNG, so the caller's RNG state is untouched and two
     builds are byte-identical.
  7. `head_dim = hidden_size // num_attention_heads` must be one of vLLM's CPU attention sizes.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from rlvr.data.synthetic import arithmetic, code_tasks, json_tasks
from rlvr.data.types import Prompt, Task

BUILD_FORMAT = 1
"""Version of the build recipe; a directory built by another version is not reused."""

VLLM_CPU_HEAD_DIMS = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256)
"""Head sizes vLLM's CPU attention backend supports."""

EOS_TOKEN = "<|endoftext|>"
"""Ends a document; the tokenizer's `eos_token`."""
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
"""ChatML turn delimiters; `<|im_end|>` also stops chat generation."""
PAD_TOKEN = "<|pad|>"
"""Padding only; never produced by the chat template."""
SPECIAL_TOKENS = (EOS_TOKEN, IM_START, IM_END, PAD_TOKEN)
"""Special tokens, in id order (ids 0..3)."""

QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
"""Qwen2's pre-tokenizer split; `\\p{N}` makes every digit (any numeral) its own pre-token."""

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
"""ChatML, as in Qwen2, without a default system message."""

CONFIG_FILE = "tiny_config.json"
"""The file in a build directory that records how it was built."""
BUILD_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json")
"""Files every complete build directory holds, besides `CONFIG_FILE`."""


@dataclass(frozen=True, slots=True)
class TinyModelConfig:
    """Shape of a tiny tokenizer + Qwen2 model. Derived: `head_dim = hidden_size // heads`."""

    vocab_size: int = 512
    """Tokenizer vocabulary and embedding rows, special tokens and 256 byte tokens included."""
    hidden_size: int = 128
    """Width of the residual stream."""
    intermediate_size: int = 256
    """Width of the SwiGLU MLP."""
    num_hidden_layers: int = 2
    """Number of decoder layers."""
    num_attention_heads: int = 4
    """Query heads; `hidden_size / num_attention_heads` must be a vLLM CPU head size."""
    num_key_value_heads: int = 2
    """Key/value heads (grouped-query attention); must divide `num_attention_heads`."""
    max_position_embeddings: int = 1024
    """Longest sequence, prompt and completion together."""
    corpus_size: int = 3000
    """Number of synthetic texts the tokenizer is trained on."""
    seed: int = 0
    """Seed of the tokenizer corpus and of the weight initialisation."""

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"TinyModelConfig.{name} must be an int, got {value!r}")
            if value < (0 if name == "seed" else 1):
                raise ValueError(f"TinyModelConfig.{name} must be positive, got {value}")
        if self.vocab_size < 256 + len(SPECIAL_TOKENS):
            raise ValueError(
                f"TinyModelConfig.vocab_size must be at least {256 + len(SPECIAL_TOKENS)} "
                f"(256 bytes + {len(SPECIAL_TOKENS)} special tokens), got {self.vocab_size}"
            )
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"TinyModelConfig.hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.head_dim not in VLLM_CPU_HEAD_DIMS:
            raise ValueError(
                f"TinyModelConfig head_dim = hidden_size / num_attention_heads = {self.head_dim}; "
                f"it must be one of {VLLM_CPU_HEAD_DIMS}"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"TinyModelConfig.num_key_value_heads ({self.num_key_value_heads}) must divide "
                f"num_attention_heads ({self.num_attention_heads})"
            )

    @property
    def head_dim(self) -> int:
        """Size of one attention head."""
        return self.hidden_size // self.num_attention_heads


PRESETS: dict[str, TinyModelConfig] = {
    "tiny": TinyModelConfig(),
    "small": TinyModelConfig(
        hidden_size=256,
        intermediate_size=1024,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
    ),
}
"""`tiny`: 0.43M parameters. `small`: 4.2M parameters. Both build in about a second.

The synthetic corpus yields at most about 730 tokens (its words are few), so both keep the
default 512-token vocabulary."""


def chatml(prompt: Prompt, completion: str) -> str:
    """One conversation rendered with `CHAT_TEMPLATE`, the completion as the assistant turn."""
    messages = ({"role": "user", "content": prompt},) if isinstance(prompt, str) else prompt
    turns = [*messages, {"role": "assistant", "content": completion}]
    return "".join(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n" for m in turns)


def tokenizer_corpus(cfg: TinyModelConfig) -> list[str]:
    """`cfg.corpus_size` texts: tasks of every synthetic family, as plain text or as ChatML.

    Families alternate (arithmetic, code, json, ...), and every other text is a ChatML
    conversation, so the chat delimiters' neighbours get merges too.
    """
    per_family = -(-cfg.corpus_size // 3)
    families = (
        arithmetic(per_family, seed=cfg.seed),
        code_tasks(per_family, seed=cfg.seed),
        json_tasks(per_family, seed=cfg.seed),
    )
    tasks: list[Task] = [task for group in zip(*families, strict=True) for task in group]
    texts = []
    for i, task in enumerate(tasks[: cfg.corpus_size]):
        prompt = task.sample.prompt
        if i % 2:
            texts.append(chatml(prompt, task.solution))
        else:
            text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
            texts.append(f"{text}\n{task.solution}{EOS_TOKEN}")
    return texts


def train_tokenizer(cfg: TinyModelConfig) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer of exactly `cfg.vocab_size` tokens, trained on synthetic text.

    Raises:
        ValueError: the corpus is too small to learn `cfg.vocab_size` tokens.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    special = re.compile("|".join(re.escape(token) for token in SPECIAL_TOKENS))
    pieces = (piece for text in tokenizer_corpus(cfg) for piece in special.split(text) if piece)
    tokenizer.train_from_iterator(pieces, trainer=trainer)
    if tokenizer.get_vocab_size() != cfg.vocab_size:
        raise ValueError(
            f"the tokenizer corpus gave only {tokenizer.get_vocab_size()} tokens for "
            f"vocab_size={cfg.vocab_size}: raise corpus_size ({cfg.corpus_size}) or lower "
            "vocab_size (the synthetic corpus saturates near 730 tokens)"
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        additional_special_tokens=[IM_START, IM_END],
        chat_template=CHAT_TEMPLATE,
        model_max_length=cfg.max_position_embeddings,
        clean_up_tokenization_spaces=False,
    )


def _token_id(tokenizer: PreTrainedTokenizerFast, token: str) -> int:
    vocab = tokenizer.get_vocab()
    if token not in vocab:
        raise ValueError(f"the tokenizer has no token {token!r}")
    return vocab[token]


def build_model(cfg: TinyModelConfig, tokenizer: PreTrainedTokenizerFast) -> Qwen2ForCausalLM:
    """A randomly initialised Qwen2 causal LM sized by `cfg`, with a matching generation config.

    `bos_token_id` is `<|endoftext|>`, as in Qwen2 (the tokenizer prepends no BOS); generation
    stops at `<|endoftext|>` or `<|im_end|>`.

    Raises:
        ValueError: the tokenizer does not match `cfg` or lacks a special token.
    """
    if len(tokenizer) != cfg.vocab_size:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens, cfg.vocab_size={cfg.vocab_size}")
    eos, im_end, pad = (_token_id(tokenizer, t) for t in (EOS_TOKEN, IM_END, PAD_TOKEN))
    config = Qwen2Config(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        max_position_embeddings=cfg.max_position_embeddings,
        tie_word_embeddings=False,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=pad,
        dtype="float32",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=eos, eos_token_id=[eos, im_end], pad_token_id=pad
    )
    model.eval()
    return model


def _recorded(cfg: TinyModelConfig) -> dict[str, Any]:
    return {"format": BUILD_FORMAT, "config": asdict(cfg)}


def _existing_build(out_dir: Path, cfg: TinyModelConfig) -> bool:
    """True if `out_dir` holds a build of `cfg`; False if it is missing or empty.

    Raises:
        FileExistsError: `out_dir` holds something else.
    """
    if not out_dir.exists():
        return False
    if not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a directory")
    if not any(out_dir.iterdir()):
        return False
    record_path = out_dir / CONFIG_FILE
    if not record_path.is_file():
        raise FileExistsError(
            f"{out_dir} is not empty and holds no {CONFIG_FILE}; refusing to overwrite it"
        )
    try:
        recorded = json.loads(record_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FileExistsError(f"{record_path} is not valid JSON ({exc}); delete {out_dir}") from exc
    if recorded != _recorded(cfg):
        raise FileExistsError(
            f"{out_dir} holds a different tiny model build ({recorded}); wanted "
            f"{_recorded(cfg)}. Choose another directory or delete it."
        )
    missing = [name for name in BUILD_FILES if not (out_dir / name).is_file()]
    if missing:
        raise FileExistsError(f"{out_dir} is an incomplete build (missing {missing}); delete it")
    return True


def build_tiny(out_dir: str | Path, cfg: TinyModelConfig = PRESETS["tiny"]) -> Path:
    """Build (or reuse) a tiny tokenizer + model directory loadable by the `Auto*` classes.

    The directory holds `tokenizer.json`, `config.json`, `generation_config.json`,
    `model.safetensors` and `tiny_config.json`. A directory that already holds a build of the same
    config is returned as is. The build is written to a temporary sibling directory and renamed
    into place, so an interrupted build never leaves a half-written `out_dir`.

    Args:
        out_dir: Where to save; created if missing.
        cfg: Model and tokenizer shape.

    Returns:
        `out_dir`.

    Raises:
        FileExistsError: `out_dir` holds something other than a build of `cfg`.
    """
    out_dir = Path(out_dir)
    if _existing_build(out_dir, cfg):
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        tokenizer = train_tokenizer(cfg)
        tokenizer.save_pretrained(staging)
        build_model(cfg, tokenizer).save_pretrained(staging)
        record = json.dumps(_recorded(cfg), indent=2, sort_keys=True) + "\n"
        (staging / CONFIG_FILE).write_text(record, encoding="utf-8")
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
    except OSError:
        if _existing_build(out_dir, cfg):
            return out_dir
        raise
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out_dir
