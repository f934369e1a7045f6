"""``python -m seatlab.client.process_entry FD``: a load process, talking to its parent over FD.

Kept apart from ``worker`` so that running it does not import itself twice.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from seatlab.client.worker import worker_main

if __name__ == "__main__":
    worker_main(Connection(int(sys.argv[1])))
