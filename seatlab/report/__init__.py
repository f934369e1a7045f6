"""Plots and report.md from stored results (a run's points.csv or a multirun's jobs); no measuring here."""
