"""Simulated platforms that Kizuna talks to in the demo and in every integration test.

Layer: connectors, demo and test infrastructure, never on a production request path. Each is a
real HTTP server speaking its platform's protocol, so production code runs unchanged against it.
"""
