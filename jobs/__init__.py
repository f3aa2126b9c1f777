"""RQ entry points: one module per job family, plus the worker and scheduler processes."""
