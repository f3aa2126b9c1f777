"""REST API v3 client for one WooCommerce store, on the `woocommerce` package's `API`.

Layer: connectors. Requests go through `connectors.outbound` (the URL is the merchant's); retries
with backoff on 429, 5xx and network errors, honouring `Retry-After`; 401/403 and other 4xx are
never retried. Works around the package's bugs (see `WooCommerceClient`).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import requests
from requests.auth import HTTPBasicAuth
from woocommerce import API

from connectors.base import AuthenticationError, ConnectorError, RetryableError
from connectors.outbound import STRICT, OutboundPolicy, guarded_session
from connectors.telemetry import problem_kind, report_api_problem

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (5.0, 30.0)
MAX_PER_PAGE = 100
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 524})
AUTH_STATUSES = frozenset({401, 403})
MAX_RETRY_AFTER = 60.0


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _SessionAPI(API):  # type: ignore[misc]
    """The package's API with its private request method replaced (URL building, OAuth kept)."""

    def __init__(self, url: str, key: str, secret: str, http: requests.Session, **kwargs: Any):
        super().__init__(url, key, secret, **kwargs)
        self.http = http
        self.basic_auth_over_http = kwargs.get("basic_auth_over_http", False)

    # Overrides the name-mangled `API.__request`, which get/post/put/delete call.
    def _API__request(
        self,
        method: str,
        endpoint: str,
        data: Any,
        params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        query = {key: _query_value(value) for key, value in (params or {}).items()}
        url = self._API__get_url(endpoint)
        auth = None
        if self.is_ssl or self.basic_auth_over_http:
            auth = HTTPBasicAuth(self.consumer_key, self.consumer_secret)
            send_params: dict[str, str] | None = query
        else:
            # OAuth 1.0a one-legged: the params are signed into the URL and sent only there.
            if query:
                url = f"{url}?{urlencode(query)}"
            url = self._API__get_oauth_url(url, method)
            send_params = None
        headers = {"user-agent": self.user_agent, "accept": "application/json"}
        body = None
        if data is not None:
            body = json.dumps(data, ensure_ascii=False).encode("utf-8")
            headers["content-type"] = "application/json;charset=utf-8"
        response: requests.Response = self.http.request(
            method=method,
            url=url,
            params=send_params,
            data=body,
            auth=auth,
            headers=headers,
            timeout=self.timeout,
            verify=self.verify_ssl,
            allow_redirects=False,
        )
        return response


class WooCommerceClient:
    """Calls to one store with one key; use as a context manager to close the session.

    Pagination follows `X-WP-TotalPages`, else the `Link: rel="next"` header. Package bugs
    worked around here: query params are not sent twice on the OAuth (http) path, the caller's
    params dict is never mutated (query-string auth put the secret into it), booleans are sent
    as `true`/`false`.
    """

    def __init__(
        self,
        store_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        max_attempts: int = 4,
        backoff: float = 0.5,
        basic_auth_over_http: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        outbound: OutboundPolicy = STRICT,
    ) -> None:
        self.store_url = store_url.rstrip("/")
        self.http = guarded_session(outbound)
        self.api = _SessionAPI(
            self.store_url,
            consumer_key,
            consumer_secret,
            self.http,
            timeout=timeout,
            version="wc/v3",
            basic_auth_over_http=basic_auth_over_http,
        )
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep

    def __enter__(self) -> WooCommerceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # --- one call -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
    ) -> requests.Response:
        """One call with retries; the response of a 2xx/3xx, else the mapped error."""
        attempt = 0
        while True:
            attempt += 1
            try:
                if method == "GET":
                    response = self.api.get(endpoint, params=params)
                elif method == "POST":
                    response = self.api.post(endpoint, data, params=params)
                elif method == "PUT":
                    response = self.api.put(endpoint, data, params=params)
                else:
                    response = self.api.delete(endpoint, params=params)
            except (requests.Timeout, requests.ConnectionError) as error:
                report_api_problem("woocommerce", "network")
                failure: RetryableError = RetryableError(
                    f"WooCommerce {method} {endpoint}: {type(error).__name__}", code="network"
                )
            else:
                status = response.status_code
                if status < 400:
                    return response
                code = _error_code(response)
                report_api_problem("woocommerce", problem_kind(status))
                if status in AUTH_STATUSES:
                    raise AuthenticationError(
                        f"WooCommerce refused the API key ({status} {code})",
                        status=status,
                        code=code,
                    )
                if status not in RETRY_STATUSES:
                    raise ConnectorError(
                        f"WooCommerce {method} {endpoint} answered {status} {code}",
                        status=status,
                        code=code,
                    )
                failure = RetryableError(
                    f"WooCommerce {method} {endpoint} answered {status}",
                    retry_after=_retry_after(response),
                    status=status,
                    code=code,
                )
            if attempt >= self.max_attempts:
                raise failure
            delay = failure.retry_after
            if delay is None:
                delay = self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 2)  # noqa: S311
            log.info(
                "woocommerce retry endpoint=%s attempt=%s delay=%.2f", endpoint, attempt, delay
            )
            self.sleep(min(delay, MAX_RETRY_AFTER))

    def get(self, endpoint: str, **params: Any) -> Any:
        return self.request("GET", endpoint, params=params).json()

    # --- pagination -----------------------------------------------------------------------

    def paginate(
        self, endpoint: str, params: Mapping[str, Any] | None = None, per_page: int = MAX_PER_PAGE
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of a collection, first to last (`X-WP-TotalPages`, else `Link: rel=next`)."""
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        page = 1
        while True:
            response = self.request(
                "GET", endpoint, params={**(params or {}), "page": page, "per_page": per_page}
            )
            items = response.json()
            if not isinstance(items, list):
                raise ConnectorError(f"WooCommerce {endpoint} did not return a list")
            if items:
                yield items
            if not _has_next(response, page, items):
                return
            page += 1

    # --- webhooks -------------------------------------------------------------------------

    def list_webhooks(self) -> list[dict[str, Any]]:
        hooks: list[dict[str, Any]] = []
        for page in self.paginate("webhooks", {"status": "all"}):
            hooks.extend(page)
        return hooks

    def create_webhook(
        self, topic: str, delivery_url: str, secret: str, name: str | None = None
    ) -> dict[str, Any]:
        data = {
            "name": name or f"Kizuna {topic}",
            "topic": topic,
            "delivery_url": delivery_url,
            "secret": secret,
            "status": "active",
        }
        result: dict[str, Any] = self.request("POST", "webhooks", data=data).json()
        return result

    def update_webhook(self, webhook_id: int, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.request("PUT", f"webhooks/{webhook_id}", data=changes).json()
        return result

    def delete_webhook(self, webhook_id: int) -> bool:
        """Delete a webhook for good (`force=true`: webhooks have no trash); False if it was
        already gone (404)."""
        try:
            self.request("DELETE", f"webhooks/{webhook_id}", params={"force": True})
        except ConnectorError as error:
            if error.status == 404:
                return False
            raise
        return True


def _has_next(response: requests.Response, page: int, items: list[Any]) -> bool:
    total_pages = response.headers.get("X-WP-TotalPages")
    if total_pages is not None and total_pages.isdigit():
        return page < int(total_pages)
    return 'rel="next"' in response.headers.get("Link", "") and bool(items)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return str(code)[:100] if code else None
