"""What the tests (and the benchmarks) share: helpers, the CLI runner, the netconfd runner."""
