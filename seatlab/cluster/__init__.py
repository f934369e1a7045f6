"""seatlab across machines, on Ray: load generators on other hosts, sweep jobs on a cluster's nodes.

``ray`` is an optional extra (``pip install -e '.[ray]'``): ``remote`` (the load processes on other
nodes, for the runner's ``load.hosts``), ``host`` (what runs on such a node), ``launcher`` (the Hydra
launcher's jobs on the cluster) import it inside the functions that use it, and ``clock`` (the nodes'
clocks against this one's) not at all: a run without ``load.hosts`` or the Ray launcher never loads it.
"""
