"""The fine-tuning study: `study.py` runs it end to end, `data.py` builds its offline data sets and weights."""
