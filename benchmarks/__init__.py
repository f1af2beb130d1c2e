"""The benchmarks: run them as modules from the repository's root (``python -m benchmarks.run``)."""
