"""Flows: the automations that email a shop's customers (cart, win-back, thank-you, review
request, replenishment), as one package around the registry of flow definitions
(`registry.py`). The send rules live once in `rules.py`; every path that decides calls them.
Importing this package, or any module in it, has no side effects (`runs.install` is called by
`create_app`).
"""
