"""``python -m seatlab.compare A B``: two stored runs side by side, point by point, with 95% intervals.

How this works: each side is a run folder (points.csv) or a multirun folder (one job folder each),
read as the report reads them (``seatlab.report.collect``). Points are matched by backend, the swept
keys (metadata.json ``swept``) and any parameter that varies within a side (``match``); per matched
point and metric, the medians of A's and B's repetitions, the ratio B/A with its 95% bootstrap
interval over the repetitions of each side (``seatlab.report.intervals``), and whether it excludes 1
(``verdict``). Points that match nothing, and failed points, are named. ``--fail-if-slower PCT`` is a
regression gate on throughput; ``--plot FILE`` draws both runs on one figure.
"""
