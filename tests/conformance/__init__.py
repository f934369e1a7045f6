"""Tests of the conformance suite: every check on every Python backend, and the command on broken servers."""
