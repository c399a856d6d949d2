"""The tiling-pad experiment: tiled against whole-image output of a real model (`seams.py`)."""
