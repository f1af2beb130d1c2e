"""ncclient_twisted's tests: unit/ (no server), embedded/ (the embedded server), netconfd/ (yuma123 netconfd)."""
