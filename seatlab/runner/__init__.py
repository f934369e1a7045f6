"""The experiment runner: Hydra configs -> sweep points -> server + load generator -> CSV, plots, report.

Modules: ``schema`` (the one config model and its validation), ``overrides``
(per-run sweeps without -m), ``points`` (sweep points, Little's law),
``execute`` (one point), ``sampler`` (server CPU/RSS), ``machine``
(metadata), ``progress``, ``job`` (one Hydra job), ``outcome`` (job.json and
the exit code), ``folders`` (run folder names, ``latest``), ``callback``
(config check, multirun aggregation), ``results`` (files).
"""
