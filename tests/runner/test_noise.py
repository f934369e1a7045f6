"""The machine's noise per point: the runner's own tree is not "other processes" (a child that burns CPU
and is reaped counts as ours), a process outside the tree is, and the frequency files read or stay empty."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

from seatlab.runner.noise import NoiseSampler, read_boost, read_governor, tree_cpu, tree_spent

BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"


def test_tree_spent_counts_the_born_and_takes_the_gone_through_their_parent() -> None:
    before = {"runner": 10.0, "server": 5.0, "old load": 2.0}
    # the old load process was reaped: its whole life (2.0 + 1.0) is now in the runner's children times
    after = {"runner": 10.5 + 3.0, "server": 6.0, "new load": 0.7}
    assert tree_spent(before, after) == 3.5 + 1.0 + 0.7 - 2.0


def test_a_child_that_burns_and_is_reaped_counts_as_the_runners_own() -> None:
    me = psutil.Process()
    before = tree_cpu(me)
    subprocess.run([sys.executable, "-c", BURN.format(s=0.6)], check=True)  # born, burns, reaped
    spent = tree_spent(before, tree_cpu(me))
    assert spent >= 0.55


def test_a_process_outside_the_tree_is_other_processes_cpu() -> None:
    # a grandchild whose parent exits at once is reparented away from this tree: it is someone else's
    script = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {BURN.format(s=1.0)!r}])"
    noise = NoiseSampler().start()
    subprocess.run([sys.executable, "-c", script], check=True)
    time.sleep(1.3)
    measured = noise.stop()
    assert measured.others_cpu_pct >= 50.0, measured  # about 1 s of CPU over about 1.4 s
    assert measured.load_avg_start >= 0 and measured.load_avg_end >= 0


def test_governor_and_boost_read_from_sysfs_or_stay_empty(tmp_path: Path) -> None:
    for cpu, governor in ((0, "performance"), (1, "performance"), (2, "powersave")):
        folder = tmp_path / f"cpu{cpu}" / "cpufreq"
        folder.mkdir(parents=True)
        (folder / "scaling_governor").write_text(governor + "\n")
    assert read_governor(tmp_path) == "performance,powersave"
    assert read_boost(tmp_path) == ""
    (tmp_path / "intel_pstate").mkdir()
    (tmp_path / "intel_pstate" / "no_turbo").write_text("1\n")
    assert read_boost(tmp_path) == "off"
    (tmp_path / "cpufreq").mkdir()
    (tmp_path / "cpufreq" / "boost").write_text("1\n")
    assert read_boost(tmp_path) == "on"
    assert read_governor(tmp_path / "nothing") == ""
