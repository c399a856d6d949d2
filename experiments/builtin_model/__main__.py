"""`python -m experiments.builtin_model`: see build.py."""

import sys

from experiments.builtin_model.build import main

sys.exit(main())
