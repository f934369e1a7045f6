"""The parent's side of a server: what starts, watches and stops one, for the runner and the conformance suite.

``process.ServerProcess`` starts a server (seatlab's own, a C++ one or any command), waits for its
READY line, keeps its output in files and always stops, kills and reaps it; ``templates`` fills a
command template's placeholders (``backend=external``, ``--command``); ``children`` ends a child
process whatever state it is in. Nothing here runs inside a server.
"""
