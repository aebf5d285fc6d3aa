"""Benchmarks and their baselines (DESIGN.md section 10, issue 7). Entry point: bench/run.py."""
