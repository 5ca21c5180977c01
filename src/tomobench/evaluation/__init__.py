"""Scoring of particle picks: the SHREC 2021 evaluation, the CZII metric, bootstrap intervals
and the control submissions.

- :mod:`tomobench.evaluation.truth`: the ground truth in the evaluation frame (particle list
  and occupancy mask).
- :mod:`tomobench.evaluation.shrec`: the organisers' ``misc/eval.py`` algorithm (localisation
  RR/TP/FP/FN/MH/RO/AD, recall, precision, F1; first-hit confusion matrix), ``corrected``
  (the default, as the workflow and the CLI) or ``published`` mode; ``evaluate_submission``
  adds the CZII metric and the intervals.
- :mod:`tomobench.evaluation.confusion`: one-vs-rest per-class statistics (pycm semantics),
  CSV and plots of the confusion matrix.
- :mod:`tomobench.evaluation.czii`: the CZII cryo-ET object-identification F-beta metric.
- :mod:`tomobench.evaluation.bootstrap`: 95 % bootstrap confidence intervals of the metrics.
- :mod:`tomobench.evaluation.controls`: the ``oracle`` and ``random`` control submissions.
- :mod:`tomobench.evaluation.report`: the JSON, text report, CSV and figure of one evaluation.
"""
