"""Use-cases that are not yet a feature package; each owns one transaction."""
