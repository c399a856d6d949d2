"""Signs that GAN training has collapsed, checked at every validation: a flat generator output, or a
discriminator that separates every real image from every fake one.

* **Flat output.** A collapsed generator turns out gray, black or washed-out images: its spatial standard
  deviation drops far below the ground truth's. The validator reports `std_ratio`, the summed per-image
  spatial standard deviation of the SR outputs over that of the HR images; below `config.train.collapse_fraction`
  the output is called flat.
* **Separated logits.** Each GAN step reports `d_separated` (1 when the smallest real logit of the batch exceeds
  the largest fake one). When that held on every step since the previous validation, the discriminator wins
  outright and the generator's adversarial gradient no longer carries information.
"""

from __future__ import annotations

import numpy as np


def spatial_std(img: np.ndarray) -> float:
    """The standard deviation over the pixels of each channel, averaged over channels (0-255 for uint8)."""
    x = np.asarray(img, np.float64)
    x = x[..., None] if x.ndim == 2 else x
    return float(x.reshape(-1, x.shape[-1]).std(axis=0).mean())


class CollapseWatch:
    """Turns validation statistics into one-line warnings naming the step.

    Args:
      fraction: the `std_ratio` below which the output counts as flat (0 turns this check off).
    """

    def __init__(self, fraction: float):
        self.fraction = fraction

    def flat_output(self, step: int, std_ratio: float) -> str | None:
        """A warning when the SR output's spatial std is below `fraction` of the HR's, else None."""
        if self.fraction <= 0 or not std_ratio < self.fraction:
            return None
        return (
            f"warning: step {step}: generator output collapsed: its spatial std is {std_ratio:.3f} of the HR "
            f"images' (below config.train.collapse_fraction={self.fraction:g}): flat, gray or black output"
        )

    def separated(self, step: int, steps: int, separated: float) -> str | None:
        """A warning when the discriminator separated real and fake logits on all `steps` steps, else None."""
        if steps <= 0 or separated < steps:
            return None
        return (
            f"warning: step {step}: the discriminator separated every real from every fake logit (min real > max "
            f"fake) on all {steps} steps since the last validation: it wins outright (GAN collapse)"
        )
