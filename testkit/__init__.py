"""What tests and benchmarks share: PyTorch reference modules written from the papers (`torch_models`), the
`lpips` and ncnn oracles (`lpips_oracle`, `ncnn_oracle`), a torchvision stand-in (`torchvision_standin`), random
Flax model directories (`flax_models`) and tiny training assets (`train_assets`). Not installed: it needs torch."""
