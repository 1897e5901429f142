"""Scale-out on Ray: reward actors, rollout actors, and the cluster they run on.

Modules (each imports `ray` only when used, so importing `rlvr` never imports Ray):
  * `rlvr.distributed.config`: `DistributedConfig`, the `distributed:` section of a stage.
  * `rlvr.distributed.cluster`: start a local cluster or join one by address; capacity check.
  * `rlvr.distributed.rewards`: `RayRewardRuntime`, the reward runtime on reward actors.
  * `rlvr.distributed.rollout`: `RayRolloutEngine`, HF engines on rollout actors.
"""

from rlvr.distributed.config import DistributedConfig

__all__ = ["DistributedConfig"]
