"""Scoring of particle picks: the SHREC 2021 evaluation and the CZII metric.

- :mod:`tomobench.evaluation.shrec`: the organisers' ``misc/eval.py`` algorithm (localisation
  RR/TP/FP/FN/MH/RO/AD, recall, precision, F1; first-hit confusion matrix), ``published`` or
  ``corrected`` mode.
- :mod:`tomobench.evaluation.confusion`: one-vs-rest per-class statistics (pycm semantics),
  CSV and plots of the confusion matrix.
- :mod:`tomobench.evaluation.czii`: the CZII cryo-ET object-identification F-beta metric.
"""
