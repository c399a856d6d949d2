"""The built-in model's build: data, starting weights, training, evaluation, and the write into the package."""
