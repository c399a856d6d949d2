"""Experiments that answer "which recipe" or "which default" questions, one folder each with its README.

- `finetune_study/`: `python -m experiments.finetune_study`, fine-tuning Real-ESRGAN x4plus on 80 unsorted pairs;
- `tiling_pad/`: `python -m experiments.tiling_pad`, the seam study that chose the default tile pad.
"""
