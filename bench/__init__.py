"""postguard's benchmark: ``python -m bench.run`` (see docs/performance.md). Not part of the test suite."""
