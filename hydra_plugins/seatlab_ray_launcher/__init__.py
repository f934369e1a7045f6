"""Hydra finds launchers only in the ``hydra_plugins`` namespace: seatlab's Ray launcher is named here.

The launcher itself is ``seatlab.cluster.launcher``; without the ray extra (hydra-ray-launcher) this
package defines nothing, so Hydra's plugin scan passes over it quietly.
"""
