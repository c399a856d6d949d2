"""`python -m experiments.tiling_pad`: see seams.py."""

from experiments.tiling_pad.seams import main

main()
