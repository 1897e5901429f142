"""Scale-out on Ray: reward actors, rollout actors, and the cluster they run on; and
`open_runtime`, which picks between local reward workers and reward actors from a config.

Modules (each imports `ray` only when used, so importing `rlvr` never imports Ray):
  * `rlvr.distributed.config`: `DistributedConfig`, the `distributed:` section of a stage.
  * `rlvr.distributed.cluster`: start a local cluster or join one by address; capacity check.
  * `rlvr.distributed.rewards`: `RayRewardRuntime`, the reward runtime on reward actors.
  * `rlvr.distributed.rollout`: `RayRolloutEngine`, HF engines on rollout actors.
  * `rlvr.distributed.runtime`: `open_runtime`.
May import `config`, `data`, `models`, `rewards`, `rollout`; never `evaluate`, a trainer or `cli`.
"""

from rlvr.distributed.config import DistributedConfig
from rlvr.distributed.runtime import open_runtime

__all__ = ["DistributedConfig", "open_runtime"]
