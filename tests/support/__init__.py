"""What the tests (and the benchmarks) share: bounded waits (helpers), ``connect`` and
``on_both_transports`` (transports), the fakes of the unit tier (bridge_fakes,
transport_fakes, service_fakes), keys, servers and runners (netconfd, stalling,
hostile_ssh, cli, ...). Nothing here imports a test module or conftest.py."""
