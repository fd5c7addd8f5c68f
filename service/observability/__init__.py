"""Prometheus metrics, the background gauges' monitor, logging that never leaks secrets."""
