"""Trainers, one file per stage (`sft`, `dpo`, `reward_model`, `grpo`, `ppo`), plus
`pipeline`, which runs stages in order, and `recipe`, which the recipes share. No inheritance
between trainers: shared plumbing is plain functions from `backends`, `runs`, `rollout`,
`rewards` and `evaluate`. May import everything but `cli`.
"""
