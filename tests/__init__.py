"""The esrgan-jax test suite: tests/<package>/test_<module>.py; shared oracles and assets live in testkit/."""
