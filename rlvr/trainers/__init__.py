"""Trainers, one file per stage (`sft`, `grpo`; DPO, reward-model and PPO trainers follow the same
shape), plus `pipeline`, which runs stages in order. No inheritance between trainers: shared
plumbing is plain functions from `backends`, `runs`, `rollout`, `rewards` and `evaluate`. May
import everything but `cli`.
"""
