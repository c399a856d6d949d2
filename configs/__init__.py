"""The training configs, one recipe per file; installed as the package `esrgan_jax.configs`."""
