"""esrgan-jax against PyTorch on the CPU: `run` (side by side, one worker process per framework) and
`profile_step` (the train step op by op)."""
