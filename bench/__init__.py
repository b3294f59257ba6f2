"""Benchmarks that print the service's figure beside a raw baseline: `python -m bench --help`."""
