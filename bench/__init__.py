"""Benchmarks: one script per speed claim, each with its ceiling measured in the same run."""
