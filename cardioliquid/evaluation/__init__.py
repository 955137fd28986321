"""Honest evaluation: EC57 beat-by-beat scoring, SzCORE seizure scoring, reports.

- :mod:`cardioliquid.evaluation.ec57`: WFDB ``bxb``-style beat matching
  (150 ms window) and ANSI/AAMI EC57 statistics (VEB/SVEB Se, +P, FPR; gross
  and record-averaged; per-class; confusion matrix).
- :mod:`cardioliquid.evaluation.seizure`: SzCORE event and sample scores
  through ``timescoring``, detection latency, window-level scores (the events
  come from :mod:`cardioliquid.decision.events`, shared with scoring and the app).
- :mod:`cardioliquid.evaluation.records`: which records and files to read.
- :mod:`cardioliquid.evaluation.run`: evaluate one record (what the command
  and the pipelines run).
- :mod:`cardioliquid.evaluation.report`: Markdown reports and PNG plots,
  written atomically.
- :mod:`cardioliquid.evaluation.cli`: ``cardioliquid evaluate`` (arguments and
  reporting only).
"""
