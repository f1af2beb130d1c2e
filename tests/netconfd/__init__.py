"""Tests against a real yuma123 netconfd behind a private sshd (the netconfd fixtures)."""
