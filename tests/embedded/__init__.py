"""Tests against the embedded server (ncclient_twisted.testing), in process or in child processes."""
