"""Flows: the automations that email a shop's customers (cart, browse abandonment, back in
stock, welcome series, birthday, win-back, thank-you, review request, replenishment), as one
package around the registry of flow definitions. The send rules live once in `rules.py`; every
path that decides calls them. Importing this package, or any module in it, has no side effects
(`reads.install` is called by `create_app`).

Modules import only modules below them (`lint-imports`, contract `flows-one-way`):

    tasks                                   the jobs' work: dispatch, sweepers, daily scan
    dispatch : send                         a batch of due steps; one message or a claimed batch
    preview : simulation : triggers : settings
    facts                                   what the rules read, set-wise
    registry                                every flow, priorities, the triggers of each event
    cart | browse | welcome | birthday | …  the flows, one module each (never each other)
    post_purchase_replay                    the post-purchase flows' backtest triggers
    post_purchase                           what the post-purchase flows share
    runs : replay : coupons                 start/exit runs; backtest replays; the coupon step
    content : scheduling                    email parts and builder; step and send jobs
    reads                                   per-transaction reads, their session listeners
    definition : form : rules               types, settings-form parts, the pure decision
"""
