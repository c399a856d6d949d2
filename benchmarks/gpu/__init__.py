"""The one-shot GPU check (`check`): parity with PyTorch (`parity`), a training smoke run (`smoke`), speed
(`speed`, `torch_cuda`) and its Markdown report (`report`); `stage_wheels.sh` stages the wheels offline."""
