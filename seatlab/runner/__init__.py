"""The experiment runner: Hydra configs -> sweep points -> server + load generator -> CSV, plots, report.

Modules: ``schema`` (typed config, validation), ``overrides`` (per-run sweeps
without -m), ``points`` (sweep points, Little's law), ``execute`` (one point),
``sampler`` (server CPU/RSS), ``machine`` (metadata), ``progress``, ``job``
(one Hydra job), ``callback`` (multirun aggregation), ``results`` (files).
"""
