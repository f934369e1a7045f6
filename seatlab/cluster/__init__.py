"""seatlab across machines, on Ray: load generators on other hosts, sweep jobs on a cluster's nodes.

``ray`` is an optional extra (``pip install -e '.[ray]'``); nothing here imports it at module level
except ``actor`` and ``hosts``, which only the runner's ``load.hosts`` path and the Ray launcher load.
"""
