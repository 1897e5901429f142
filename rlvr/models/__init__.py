"""Models: loading policies and tokenizers, tiny local models, and the KV-cache plumbing shared by
the rollout engine and the trainers. May import `rlvr.data` and `rlvr.config`; never a trainer,
an engine or the reward runtime.
"""
