"""WooCommerce connect routes: the store-URL form, the wc-auth callback, the return page.

Pages: `templates/auth/connect_woocommerce.html` (the form, and the "checking" state).

Layer: web auth. The unsigned callback is trusted only through the pending request its `user_id`
names, and answers 200 at once; the store is bound only after a job has used the key.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext

from app.auth import bp
from app.auth.csrf import csrf_token, csrf_valid
from app.auth.guard import account_owner_session, refuse_non_owner
from app.i18n import text_for
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


def _form(error: str | None = None, store_url: str = "", status: int = 200) -> Any:
    page = render_template(
        "auth/connect_woocommerce.html", error=error, store_url=store_url, csrf_token=csrf_token()
    )
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
        return _form(gettext("This form has expired. Please submit it again."), store_url, 400)
    try:
        target = start_connect(kizuna(), account_id, store_url)
    except ConnectError as error:
        return _form(text_for(error.key), store_url, 400)
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
        return _form(gettext("The store did not grant access. You can try again."), status=400)
    account_id = session.get("account_id")
    token = request.args.get("user_id", "")
    status = None
    if isinstance(account_id, int) and token:
        status = connect_status(kizuna(), account_id, token)
    if status is None or status.outcome == CONNECTED:
        return redirect(url_for("admin.home"))
    if status.outcome in (None, CHECKING):
        return render_template("auth/connect_woocommerce.html", checking=True), 200
    if status.failure:
        return _form(text_for(status.failure), status=400)
    return _form(gettext("The store could not be connected."), status=400)
