"""Peak memory: `upscale` (tiled against whole-image upscaling), `compile` (compiled sizes of the shared forward)
and `train` (a training command's phases, RSS sampled)."""
