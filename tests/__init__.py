"""ncclient_twisted's tests: unit/ (no server), embedded/ (the embedded server), netconfd/ (netconfd)."""
