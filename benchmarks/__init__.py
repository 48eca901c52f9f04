"""Benchmarks: each prints its figure next to the ceiling it is compared with, in one run."""
