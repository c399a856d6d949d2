"""Training: the train step, its state, optimiser, losses, checkpoints, recorder and validation."""
