"""Pure logic with no I/O (no Flask, database, HTTP, Redis, RQ or connectors)."""
