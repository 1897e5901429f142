"""Models: loading policies and tokenizers (`loading`), tiny local models (`tiny`), token
plumbing shared by engines and trainers (`tokens`: prompts, padding, log-probabilities), the KV
cache rlvr owns (`kv_cache`) and the supported releases of the model libraries (`versions`).
May import `config` and `data`; never an engine, a backend, the reward runtime or a trainer.
"""
