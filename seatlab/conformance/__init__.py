"""The conformance suite of the seatlab wire protocol, for seatlab's backends and anyone's server.

``python -m seatlab.conformance --command '...'`` (a command template with
the placeholders of ``backend=external``), ``--backend NAME`` (seatlab's
own) or ``--address host:port`` (one already running; the checks that
need to start, signal or restart it are skipped, each saying why). Every
check of ``protocol.md`` runs over real sockets against a real process;
``run_suite`` is the same suite as a function, which the project's own
tests call.
"""

from seatlab.conformance.suite import Outcome, Status, SuiteResult, all_checks, run_suite

__all__ = ["Outcome", "Status", "SuiteResult", "all_checks", "run_suite"]
