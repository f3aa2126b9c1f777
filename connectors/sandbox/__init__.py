"""Simulated platforms that Kizuna talks to in the demo and in every integration test.

Layer: connectors. Demo and test infrastructure: started by `kizuna demo` and by the tests, never
on a production request path. Each simulator is a real HTTP server speaking its platform's
protocol, so Kizuna's production code runs unchanged against it. Nothing here reaches the network
except the webhook deliveries it is asked to make.
"""
