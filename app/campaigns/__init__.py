"""Campaigns: a one-off email to saved segments and RFM groups, sent now or at a scheduled time.

Layer: a feature package beside `app/services` and `app/flows` (it reads through both). Order
inside: `content` (validation, rendering, no side effects), `audience` (who, and who is left
out by the shared rules), `coupons` (platform codes), `sending` (the snapshot and the
set-wise send), `service` (the merchant's actions, each commits), `report`.
"""
