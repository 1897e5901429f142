"""One trainer per stage: sft, dpo, reward_model, ppo, grpo. No inheritance between them."""
