"""WooCommerce connect routes: the store-URL form, the wc-auth callback, the return page.

Layer: web auth. The unsigned callback is trusted only through the pending request its `user_id`
names, and answers 200 at once; the store is bound only after a job has used the key.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import jsonify, redirect, render_template_string, request, session, url_for

from app.auth import bp
from app.auth.csrf import csrf_token, csrf_valid
from app.auth.guard import account_owner_session, refuse_non_owner
from app.kizuna import kizuna
from app.services.woocommerce_install import (
    CHECKING,
    CONNECTED,
    ConnectError,
    accept_key_grant,
    connect_status,
    start_connect,
)
from connectors.woocommerce.auth import KeyGrant

log = logging.getLogger(__name__)


_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect a WooCommerce store</title></head>
<body><main>
<h1>Connect a WooCommerce store</h1>
{% if error %}<p role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ url_for('auth.connect_woocommerce') }}">
  <label for="store_url">Store address</label>
  <input id="store_url" name="store_url" value="{{ store_url }}" required
         placeholder="https://shop.example.com">
  <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
  <button type="submit">Connect</button>
</form>
<p>You will be asked to approve access in your WordPress admin.</p>
</main></body></html>"""


_CHECKING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>Connecting your WooCommerce store</title></head>
<body><main>
<h1>Connecting your WooCommerce store</h1>
<p role="status">Checking the key your store sent. This page updates by itself.</p>
</main></body></html>"""


def _form(error: str | None = None, store_url: str = "", status: int = 200) -> Any:
    page = render_template_string(_FORM, error=error, store_url=store_url, csrf_token=csrf_token())
    return page, status


@bp.route("/connect/woocommerce", methods=["GET", "POST"])
def connect_woocommerce():  # type: ignore[no-untyped-def]
    account_id = account_owner_session()
    if account_id is None:  # connecting a store is for the account's owner, not its staff
        return refuse_non_owner()
    if request.method == "GET":
        return _form()
    store_url = request.form.get("store_url", "").strip()
    if not csrf_valid():
        return _form("This form has expired. Please submit it again.", store_url, 400)
    try:
        target = start_connect(kizuna(), account_id, store_url)
    except ConnectError as error:
        return _form(str(error), store_url, 400)
    return redirect(target)


@bp.post("/auth/woocommerce/callback")
def woocommerce_callback():  # type: ignore[no-untyped-def]
    try:
        body = json.loads(request.get_data(cache=False).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        body = None
    grant = KeyGrant.parse(body)
    if grant is None:
        return jsonify(error="invalid_request"), 400
    pending_id = accept_key_grant(kizuna(), grant)
    if pending_id is None:
        return jsonify(error="unknown_request"), 400
    return jsonify(ok=True), 200


@bp.get("/connect/woocommerce/done")
def woocommerce_done():  # type: ignore[no-untyped-def]
    # `success=1` is only a hint: the callback has already told us (or not).
    if request.args.get("success") != "1":
        return _form("The store did not grant access. You can try again.", status=400)
    account_id = session.get("account_id")
    token = request.args.get("user_id", "")
    status = None
    if isinstance(account_id, int) and token:
        status = connect_status(kizuna(), account_id, token)
    if status is None or status.outcome == CONNECTED:
        return redirect(url_for("admin.home"))
    if status.outcome in (None, CHECKING):
        return render_template_string(_CHECKING), 200
    return _form(status.failure or "The store could not be connected.", status=400)
