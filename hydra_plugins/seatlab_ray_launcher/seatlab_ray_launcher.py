"""``hydra/launcher=ray`` (``conf/hydra/launcher/ray.yaml``): ``seatlab.cluster.launcher``'s launcher."""

from __future__ import annotations

try:
    from seatlab.cluster.launcher import SeatlabRayLauncher as _Launcher
except ImportError:  # no hydra-ray-launcher (the ray extra): nothing to offer
    pass
else:

    class SeatlabRayLauncher(_Launcher):
        """hydra-ray-launcher's launcher, each job's folder brought back to this machine's sweep dir."""
