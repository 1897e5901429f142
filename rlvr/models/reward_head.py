"""Reward models: a scalar head on a causal-LM backbone, loaded for training or for scoring, and
the scores of (prompt, completion) rows.

A reward model is transformers' `AutoModelForSequenceClassification` with `num_labels=1`, so a
checkpoint rlvr writes loads in any HF tool (TRL, OpenRLHF, a `pipeline`), and one they write
loads here.

Implementation details:
  1. Training starts from a causal LM (usually the SFT stage's `final/`): its body loads into
     `<Arch>ForSequenceClassification`, its LM head is dropped and the `score` head (hidden ->
     1, no bias) is initialised by transformers from the global torch seed. A checkpoint that
     is already a one-label sequence classifier loads as it is (continued training).
  2. `config.pad_token_id` is set to the tokenizer's pad id (its EOS when it has no pad token,
     as TRL does): the sequence-classification forward scores the rightmost token that is not
     padding, in rlvr and in every HF tool that loads the saved model. Rows are right-padded
     and every completion ends with the tokenizer's EOS, so the score is read at the EOS.
     Where pad and EOS are the same token, the score is read at the token before the EOS, by
     every tool alike.
  3. `score_rows` sorts rows by length before batching (less padding), and returns the scores
     in input order.
  4. Under `model.lora` peft trains adapters on the body and the whole `score` head (task type
     `SEQ_CLS`); a run's `final/` then holds both, and `load_reward_model` merges them into
     the base named in the adapter config (with `model.lora.save_merged`, `final/merged` is a
     plain reward model for other tools).
  5. Shared prefixes (`pair_scores`): the leading tokens both sides of a pair hold alike (the
     prompt, and whatever start the two completions share: "63 + 15 = " before "78" or "77")
     run once per pair, up to the shortest such prefix in the batch, and their keys and values
     are repeated for the two sides (`DynamicCache.batch_select_indices`, differentiable, so
     gradients reach the prefix from both). Right padding keeps every shared column a real
     token, so positions are the column indices in both passes, and the classifier finds each
     row's last real token in the second pass's ids.
  6. `RewardHeadConfig.layers` (the stage's `head` section) stacks new decoder blocks on the
     body before the score head: the grown config (`num_hidden_layers` + N, per-layer lists
     such as `layer_types` extended by their last entry) loads the causal LM's blocks into the
     first layers and initialises the rest; each new block's two residual branches end in a
     zeroed projection (`o_proj`, `down_proj`), so it starts as the identity and the body's
     hidden states reach the head unchanged. The saved model is the same architecture with
     more layers: any HF tool loads it. Why: a scalar head reads one token, and a small body's
     last layer is where it forms its next-token prediction; no later layer can compare that
     prediction with the token that follows. New blocks on a frozen body (`freeze_body`) can
     (docs/reward-models.md measures it).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import transformers
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
from transformers import PreTrainedTokenizerBase as Tokenizer

from rlvr.config.sections import ModelConfig
from rlvr.data.types import Prompt
from rlvr.models.kv_cache import CACHE_KEYWORD, new_cache
from rlvr.models.loading import ModelNotFoundError
from rlvr.models.lora import (
    ADAPTER_CONFIG,
    adapter_base,
    apply_lora,
    is_adapter_dir,
    load_adapter_dir,
)
from rlvr.models.tiny import CONFIG_FILE, PRESETS, build_tiny
from rlvr.models.tokens import encode_pairs, pad_pairs
from rlvr.models.versions import check_supported

Dtype = Literal["float32", "bfloat16", "float16"]


class RewardModelError(ValueError):
    """A path that is not a reward model (a causal LM without a scalar head, several labels)."""


@dataclass(frozen=True)
class RewardHeadConfig:
    """What a new reward model puts between its body and its scalar score (detail 6)."""

    layers: int = 0
    """New decoder blocks stacked on the body, each starting as the identity; 0: none (the score
    head reads the body's last layer, as in TRL)."""
    freeze_body: bool = False
    """Train only what is above the body: the new blocks, the final norm and the score head;
    the embeddings and the body's blocks stay as loaded."""

    def __post_init__(self) -> None:
        if isinstance(self.layers, bool) or not isinstance(self.layers, int) or self.layers < 0:
            raise ValueError(f"layers must be a non-negative int, got {self.layers!r}")


def _architectures(path: str, trust_remote_code: bool) -> tuple[list[str], int]:
    """(architectures, num_labels) of the checkpoint at `path`."""
    p = Path(path)
    if p.exists() and not (p / "config.json").is_file():
        what = "a file" if p.is_file() else "a directory without config.json"
        raise ModelNotFoundError(f"{path!r} is {what}, not a model directory")
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelNotFoundError(
            f"{path!r} does not exist, and it was not found on the hub either ({reason[:200]})"
        ) from None
    return list(config.architectures or []), int(config.num_labels)


def is_reward_model(path: str, *, trust_remote_code: bool = False) -> bool:
    """True when `path` holds a one-label sequence classifier (a scalar reward head)."""
    archs, labels = _architectures(path, trust_remote_code)
    return any(a.endswith("ForSequenceClassification") for a in archs) and labels == 1


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report while a causal LM loads into a classifier (its
    'UNEXPECTED lm_head / MISSING score' lines are the expected change of head)."""
    before = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(before)


def _tokenizer(path: str, trust_remote_code: bool) -> Tokenizer:
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise RewardModelError(f"the tokenizer of {path!r} has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_reward_backbone(
    cfg: ModelConfig,
    *,
    checkpoint: str | Path | None = None,
    head: RewardHeadConfig | None = None,
) -> tuple[Any, Tokenizer, bool]:
    """The model a reward-model run trains: a causal LM with a new scalar head, or a reward
    model to train further (implementation detail 1), with LoRA adapters when `cfg.lora` is
    set (peft trains the whole head beside them). Seed torch first: the head's init draws
    from it. `checkpoint` resumes a run: its weights (under LoRA, its adapters and head on
    `cfg.path`'s body) replace the starting ones. `head` adds blocks under a new head and
    freezes the body (detail 6); a checkpoint already holds the blocks, and is frozen alike.

    Returns:
        (model, tokenizer, new_head): `new_head` is True when the head was just initialised.

    Raises:
        ModelNotFoundError: `cfg.path` holds no model.
        RewardModelError: the checkpoint has several labels, its architecture has no
            sequence-classification class in transformers, or it is a LoRA adapter directory;
            `head` asks for blocks on a model that is already a reward model, or for blocks or
            a frozen body under LoRA, or the architecture's blocks are not the Llama kind.
    """
    head = head or RewardHeadConfig()
    if cfg.lora is not None and (head.layers or head.freeze_body):
        raise RewardModelError(
            "head.layers and head.freeze_body train whole blocks; use them without model.lora"
        )
    check_supported("transformers")
    path = Path(cfg.path)
    if is_adapter_dir(path):
        raise RewardModelError(
            f"{cfg.path!r} holds LoRA adapters, not a model: train the stage before with "
            "model.lora.save_merged: true and start from its final/merged"
        )
    holds_trained_model = (path / "config.json").is_file() and not (path / CONFIG_FILE).exists()
    if cfg.tiny_preset is not None and not holds_trained_model:
        build_tiny(path, PRESETS[cfg.tiny_preset])
    full = checkpoint if checkpoint is not None and cfg.lora is None else cfg.path
    grow = head.layers if checkpoint is None else 0
    model, tokenizer, new_head = _classifier(str(full), cfg, grow=grow)
    if head.freeze_body:
        freeze_body(model, head.layers)
    if cfg.lora is not None:
        if checkpoint is not None:
            return load_adapter_dir(checkpoint, model, trainable=True), tokenizer, False
        model = apply_lora(model, cfg.lora, where=cfg.path, task_type="SEQ_CLS")
    return model, tokenizer, new_head


def _classifier(path: str, cfg: ModelConfig, *, grow: int = 0) -> tuple[Any, Tokenizer, bool]:
    """The one-label classifier at `path` (a new head on a causal LM, `grow` new blocks under
    it), its tokenizer, and whether the head is new."""
    archs, labels = _architectures(path, cfg.trust_remote_code)
    classifier = any(a.endswith("ForSequenceClassification") for a in archs)
    if classifier and labels != 1:
        raise RewardModelError(
            f"{path!r} is a sequence classifier with {labels} labels; a reward model has one"
        )
    if classifier and grow:
        raise RewardModelError(
            f"head.layers adds blocks under a new scalar head, and {path!r} is already a reward "
            "model; set head.layers: 0 to train it further"
        )
    tokenizer = _tokenizer(path, cfg.trust_remote_code)
    extra: dict[str, Any] = {"num_labels": 1}
    if grow:  # the grown config carries num_labels
        extra = {"config": grown_config(path, grow, trust_remote_code=cfg.trust_remote_code)}
    try:
        with _quiet_transformers():
            model = AutoModelForSequenceClassification.from_pretrained(
                path,
                dtype=getattr(torch, cfg.dtype),
                trust_remote_code=cfg.trust_remote_code,
                **extra,
            )
    except ValueError as exc:
        if "Unrecognized configuration class" not in str(exc):
            raise
        raise RewardModelError(
            f"{path!r} ({', '.join(archs) or 'unknown architecture'}): transformers has no "
            "sequence-classification class for this architecture, so it cannot carry a reward head"
        ) from None
    model.config.pad_token_id = tokenizer.pad_token_id
    if grow:
        start_as_identity(
            model, range(model.config.num_hidden_layers - grow, model.config.num_hidden_layers)
        )
    return model, tokenizer, not classifier


def grown_config(path: str, layers: int, *, trust_remote_code: bool = False) -> Any:
    """The config at `path` with `layers` more decoder blocks (detail 6), one label."""
    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code, num_labels=1)
    depth = getattr(config, "num_hidden_layers", None)
    if not isinstance(depth, int):
        raise RewardModelError(f"{path!r}: its config has no num_hidden_layers to add blocks to")
    config.num_hidden_layers = depth + layers
    for name, value in list(vars(config).items()):  # one entry per layer: layer_types
        if name.endswith("layer_types") and isinstance(value, list) and value:
            setattr(config, name, value + [value[-1]] * layers)
    return config


_BRANCH_ENDS = ("o_proj", "down_proj")
"""The last projection of a Llama-style block's attention and MLP branches."""


def _blocks(model: Any) -> tuple[Any, torch.nn.ModuleList]:
    body = getattr(model, model.base_model_prefix, None)
    blocks = getattr(body, "layers", None)
    if not isinstance(blocks, torch.nn.ModuleList):
        raise RewardModelError(
            f"{type(model).__name__}: no decoder blocks at .{model.base_model_prefix}.layers; "
            "head.layers and head.freeze_body support Llama-style decoders"
        )
    return body, blocks


def start_as_identity(model: Any, indices: Sequence[int]) -> None:
    """Zero the end of both residual branches of the blocks `indices`: each adds nothing."""
    _, blocks = _blocks(model)
    for i in indices:
        ends = [m for n, m in blocks[i].named_modules() if n.endswith(_BRANCH_ENDS)]
        if len(ends) != 2 or not all(isinstance(m, torch.nn.Linear) for m in ends):
            raise RewardModelError(
                f"{type(model).__name__}: its blocks do not end their attention in o_proj and "
                "their MLP in down_proj; head.layers supports Llama-style decoders (Llama, "
                "Qwen, Mistral, ...)"
            )
        with torch.no_grad():
            for m in ends:
                m.weight.zero_()
                if m.bias is not None:
                    m.bias.zero_()


def freeze_body(model: Any, top: int) -> None:
    """Leave trainable only the top `top` blocks, the final norm and the score head."""
    body, blocks = _blocks(model)
    body.requires_grad_(False)
    for block in blocks[len(blocks) - top :]:  # top 0: none
        block.requires_grad_(True)
    norm = getattr(body, "norm", None)
    if isinstance(norm, torch.nn.Module):
        norm.requires_grad_(True)


def check_reward_model(path: str, *, trust_remote_code: bool = False) -> None:
    """Fail in one line, reading only its config, unless `path` is a reward model (a one-label
    classifier, or a LoRA reward-model run's adapters): what `load_reward_model` refuses."""
    if is_adapter_dir(path):
        task = json.loads((Path(path) / ADAPTER_CONFIG).read_text()).get("task_type")
        if task != "SEQ_CLS":
            raise RewardModelError(
                f"{path!r} holds LoRA adapters of a causal LM ({task}), not of a reward model; "
                "train one with `rlvr train` on a `stage: reward_model` config "
                "(see recipes/configs/reward_model/)"
            )
        return
    archs, labels = _architectures(path, trust_remote_code)
    if not any(a.endswith("ForSequenceClassification") for a in archs):
        found = ", ".join(archs) or "no architecture recorded"
        raise RewardModelError(
            f"{path!r} is not a reward model ({found}: no scalar reward head); train one from "
            f"it with `rlvr train` on a `stage: reward_model` config with model.path: {path} "
            "(see recipes/configs/reward_model/)"
        )
    if labels != 1:
        raise RewardModelError(f"{path!r} has {labels} labels; a reward model has one")


def load_reward_model(
    path: str, *, dtype: Dtype = "float32", trust_remote_code: bool = False
) -> tuple[Any, Tokenizer]:
    """A trained reward model and its tokenizer, in eval mode, for scoring.

    Raises:
        ModelNotFoundError: `path` holds no model.
        RewardModelError: `path` is a causal LM without a scalar head (the message says how to
            train one), or a classifier with several labels.
    """
    check_supported("transformers")
    check_reward_model(path, trust_remote_code=trust_remote_code)
    if is_adapter_dir(path):
        return _merged_adapters(path, dtype=dtype, trust_remote_code=trust_remote_code)
    tokenizer = _tokenizer(path, trust_remote_code)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer


def _merged_adapters(path: str, *, dtype: Dtype, trust_remote_code: bool) -> tuple[Any, Tokenizer]:
    """A LoRA reward-model run's `final/`: its head and adapters merged into its base."""
    base = ModelConfig(adapter_base(path), dtype=dtype, trust_remote_code=trust_remote_code)
    model, _, _ = _classifier(base.path, base)
    tokenizer = _tokenizer(path, trust_remote_code)
    model = load_adapter_dir(path, model, trainable=False)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer


def sequence_scores(
    model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """The scalar score of each right-padded row `[B, L]`, `[B]` float32 (with gradients when
    enabled). `model` is the classifier or a wrapper that forwards to it (DeepSpeed, peft)."""
    out = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    scores: torch.Tensor = out.logits[:, 0].float()
    return scores


def pair_scores(
    model: Any,
    chosen: Sequence[tuple[Sequence[int], Sequence[int]]],
    rejected: Sequence[tuple[Sequence[int], Sequence[int]]],
    *,
    pad_id: int,
    share_prefix: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Scores of the chosen and rejected sides of `b` pairs (`[b]` each, with gradients when
    enabled) in one batch, and its real token count.

    With `share_prefix` the rows are laid out pair by pair and the leading columns that both
    rows of every pair hold alike (the prompt, and the start the two completions have in
    common) run once per pair, with the KV cache kept and repeated for both sides
    (implementation detail 5); same scores and gradients as the plain forward up to float
    rounding.
    """
    b = len(chosen)
    rows = [[*side[i][0], *side[i][1]] for i in range(b) for side in (chosen, rejected)]
    batch = pad_pairs([(r, []) for r in rows], pad_id=pad_id).to(model_device(model))
    tokens = int(batch.attention_mask.sum())
    start = shared_columns(rows) if share_prefix else 0
    if start < 2:
        scores = sequence_scores(model, batch.input_ids, batch.attention_mask)  # [2b]
        return scores[0::2], scores[1::2], tokens
    cache = new_cache(model)
    model(
        input_ids=batch.input_ids[0::2, :start],  # [b, S]: once per pair
        attention_mask=batch.attention_mask[0::2, :start],
        use_cache=True,
        **{CACHE_KEYWORD: cache},
    )
    cache.batch_select_indices(torch.arange(2 * b, device=batch.input_ids.device) // 2)
    out = model(
        input_ids=batch.input_ids[:, start:],  # [2b, L-S]: each side's own tokens
        attention_mask=batch.attention_mask,
        use_cache=True,
        **{CACHE_KEYWORD: cache},
    )
    scores = out.logits[:, 0].float()  # each row's last real token lies past S
    return scores[0::2], scores[1::2], tokens


def shared_columns(rows: Sequence[Sequence[int]]) -> int:
    """Leading columns that rows `2i` and `2i+1` hold alike for every pair i, leaving each row at
    least one token after them: the minimum over pairs of their common prefix, capped at each
    row's length minus one."""
    shared = min(len(r) - 1 for r in rows)
    for first, second in zip(rows[0::2], rows[1::2], strict=True):
        same = 0
        for x, y in zip(first, second, strict=False):
            if x != y or same >= shared:
                break
            same += 1
        shared = min(shared, same)
    return max(0, shared)


def model_device(model: Any) -> torch.device:
    """The device of `model`'s parameters."""
    return next(model.parameters()).device  # type: ignore[no-any-return]


@torch.no_grad()
def score_rows(
    model: Any,
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    *,
    pad_id: int,
    batch_size: int = 32,
) -> list[float]:
    """Scores of (prompt ids, completion ids) rows, in input order (implementation detail 3)."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    device = model_device(model)
    out = [0.0] * len(pairs)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = pad_pairs([pairs[i] for i in rows], pad_id=pad_id).to(device)
        scores = sequence_scores(model, batch.input_ids, batch.attention_mask).cpu().tolist()
        for i, s in zip(rows, scores, strict=True):
            out[i] = float(s)
    return out


def score_texts(
    model: Any,
    tokenizer: Tokenizer,
    prompts: Sequence[Prompt],
    completions: Sequence[str],
    *,
    batch_size: int = 32,
    max_len: int | None = None,
) -> list[float]:
    """Scores of (prompt, completion) texts, tokenised as the reward-model trainer tokenises
    them: the prompt rendered (chat template for messages), the completion with EOS appended."""
    pairs = encode_pairs(
        tokenizer, prompts, completions, eos_id=tokenizer.eos_token_id, max_len=max_len
    )
    return score_rows(model, pairs, pad_id=int(tokenizer.pad_token_id), batch_size=batch_size)
