"""`python -m experiments.finetune_study`: see study.py."""

import sys

from experiments.finetune_study.study import main

sys.exit(main())
