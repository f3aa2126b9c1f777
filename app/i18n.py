"""The admin's languages (English and Japanese): a small message catalogue and `t()` for templates.

Layer: web presentation. The language of a request is, in order: the `locale` query parameter
(Shopify adds it to embedded document loads), the `Accept-Language` header (App Bridge sets it on
fetches), the shop's locale, then English. A key missing in Japanese falls back to English; a key
missing everywhere shows the key itself, so a typo is visible but never breaks a page.
Messages are plain text: templates escape them and the values formatted into them.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request

SUPPORTED = ("en", "ja")
DEFAULT_LANGUAGE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "app.name": "Kizuna",
        "nav.home": "Home",
        "nav.customers": "Customers",
        "nav.logout": "Log out",
        "nav.switch_shop": "Store",
        "nav.switch": "Switch",
        "nav.main": "Main navigation",
        "health.stalled": "Automations are stalled: emails are not being sent. The background "
        "worker or scheduler has stopped; `kizuna doctor` names the fault.",
        # login
        "login.title": "Sign in",
        "login.expired": "This login link has expired, was already used, or is not valid.",
        "login.help": "Open the login link printed by {demo} or {login_link}.",
        # empty state
        "empty.title": "Connect your first store",
        "empty.body": "Kizuna has no store for this account yet. Connect a Shopify store to "
        "import its customers and orders.",
        "empty.connect": "Connect a Shopify store",
        "empty.cli": "Or, from a terminal, with a custom app's Admin API token:",
        # home
        "home.title": "Store status",
        "home.store": "Store",
        "home.platform": "Platform",
        "home.domain": "Domain",
        "home.status": "Install status",
        "home.install_method": "Install method",
        "home.installed_at": "Installed",
        "home.uninstalled_at": "Uninstalled",
        "home.timezone": "Time zone",
        "home.currency": "Currency",
        "home.scopes": "API scopes",
        "home.scopes_none": "No scopes recorded",
        "home.webhooks_subscribed": "Webhook subscriptions",
        "home.missing_all_orders": "The {scope} scope is not granted: Shopify only lets Kizuna "
        "read the last 60 days of orders, so older history (RFM, win-back) is incomplete. "
        "Request the scope for the app and reinstall it.",
        "home.missing_scopes": "Scopes the app asks for but the store has not granted: {scopes}",
        "home.last_error": "Last error",
        "home.last_error_at": "at {when}",
        "home.uninstalled_notice": "This store has uninstalled Kizuna: syncing and messages "
        "are stopped.",
        "home.refreshing": "Updating every few seconds while the sync runs.",
        # sync
        "sync.title": "Sync",
        "sync.status": "Status",
        "sync.stream": "Current step",
        "sync.stream_col": "Data",
        "sync.done_col": "Imported",
        "sync.total_col": "Expected",
        "sync.started_at": "Started",
        "sync.finished_at": "Finished",
        "sync.elapsed": "Elapsed",
        "sync.rate": "Rate",
        "sync.eta": "Time left",
        "sync.records_per_second": "{rate} records/s",
        "sync.error": "Sync error",
        "sync.progress": "Sync progress",
        "sync.no_streams": "Nothing imported yet.",
        "sync.status.not_started": "Not started",
        "sync.status.running": "Running",
        "sync.status.done": "Done",
        "sync.status.failed": "Failed",
        "stream.customers": "Customers",
        "stream.orders": "Orders",
        "stream.products": "Products",
        "stream.checkouts": "Checkouts",
        # webhooks
        "webhooks.title": "Webhooks",
        "webhooks.received": "Received",
        "webhooks.processed": "Processed",
        "webhooks.pending": "Pending",
        "webhooks.failed": "Failed",
        "webhooks.ignored": "Ignored",
        "webhooks.rejected": "Rejected (bad signature)",
        "webhooks.last_received_at": "Last received",
        "webhooks.last_error": "Last processing error",
        "webhooks.unavailable": "unavailable",
        # shop statuses, platforms, install methods
        "shop_status.installing": "Installing",
        "shop_status.active": "Active",
        "shop_status.uninstalled": "Uninstalled",
        "shop_status.error": "Error",
        "platform.shopify": "Shopify",
        "platform.woocommerce": "WooCommerce",
        "install_method.managed": "Shopify managed install",
        "install_method.code_grant": "OAuth (authorization code)",
        "install_method.custom_app": "Custom app token",
        "install_method.key_exchange": "WooCommerce key exchange",
        # customers list
        "customers.title": "Customers",
        "customers.search": "Search by name or email",
        "customers.search_button": "Search",
        "customers.clear": "Clear",
        "customers.count": "{count} customers",
        "customers.count_one": "1 customer",
        "customers.count_capped": "More than {count} customers",
        "customers.none": "No customers yet: they appear here as the sync imports them.",
        "customers.no_match": "No customers match “{q}”.",
        "customers.name": "Name",
        "customers.email": "Email",
        "customers.consent": "Email marketing",
        "customers.orders": "Orders",
        "customers.total_spent": "Total spent",
        "customers.last_order": "Last order",
        "customers.next": "Next",
        "customers.first_page": "First page",
        "customers.pagination": "Pages",
        # consent
        "consent.subscribed": "Subscribed",
        "consent.not_subscribed": "Not subscribed",
        "consent.pending": "Pending confirmation",
        "consent.unsubscribed": "Unsubscribed",
        "consent.redacted": "Redacted",
        "consent.invalid": "Invalid",
        "consent.unknown": "Unknown",
        "opt_in.single_opt_in": "Single opt-in",
        "opt_in.confirmed_opt_in": "Confirmed opt-in (double)",
        "opt_in.unknown": "Unknown",
        # customer page
        "customer.back": "All customers",
        "customer.profile": "Profile",
        "customer.email": "Email",
        "customer.phone": "Phone",
        "customer.locale": "Language",
        "customer.country": "Country",
        "customer.city": "City",
        "customer.tags": "Tags",
        "customer.since": "Customer since",
        "customer.external_id": "Platform ID",
        "customer.deleted": "Deleted on the platform",
        "customer.redacted": "Personal data erased",
        "customer.consent": "Email marketing consent",
        "customer.consent_state": "State",
        "customer.opt_in_level": "Opt-in level",
        "customer.consent_updated_at": "Updated",
        "customer.totals": "Totals",
        "customer.orders_count": "Orders",
        "customer.total_spent": "Total spent",
        "customer.first_order": "First order",
        "customer.last_order": "Last order",
        "customer.orders": "Orders",
        "customer.no_orders": "No orders yet.",
        "customer.checkouts": "Open checkouts",
        "customer.no_checkouts": "No open checkouts.",
        "customer.recover": "Recovery link",
        "customer.timeline": "Timeline",
        "customer.no_timeline": "Nothing has happened yet.",
        "customer.timeline_limited": "Showing the latest {count} events.",
        "order.name": "Order",
        "order.date": "Date",
        "order.status": "Status",
        "order.total": "Total",
        "order.items": "Items",
        "order.cancelled": "Cancelled",
        "order.item": "Item",
        "order.sku": "SKU",
        "order.quantity": "Qty",
        "order.price": "Price",
        "order.no_lines": "No line items.",
        "financial.paid": "Paid",
        "financial.pending": "Payment pending",
        "financial.authorized": "Authorized",
        "financial.partially_paid": "Partially paid",
        "financial.refunded": "Refunded",
        "financial.partially_refunded": "Partially refunded",
        "financial.voided": "Voided",
        "fulfillment.fulfilled": "Fulfilled",
        "fulfillment.unfulfilled": "Unfulfilled",
        "fulfillment.partial": "Partially fulfilled",
        "fulfillment.partially_fulfilled": "Partially fulfilled",
        "fulfillment.restocked": "Restocked",
        "checkout.started": "Started",
        "checkout.total": "Total",
        "checkout.items": "Items",
        "checkout.item_count": "{count} items",
        "timeline.order_placed": "Placed an order",
        "timeline.order_cancelled": "Cancelled an order",
        "timeline.checkout_started": "Started a checkout",
        "timeline.checkout_abandoned": "Abandoned a checkout",
        "timeline.checkout_completed": "Completed a checkout",
        "timeline.consent_changed": "Email consent changed",
        "timeline.customer_created": "Became a customer",
        "timeline.message_sent": "Was sent an email",
        "timeline.message_opened": "Opened an email",
        "timeline.message_clicked": "Clicked an email",
        "timeline.unsubscribed": "Unsubscribed",
        "common.none": "—",
        "common.yes": "Yes",
        "common.no": "No",
    },
    "ja": {
        "app.name": "Kizuna",
        "nav.home": "ホーム",
        "nav.customers": "顧客",
        "nav.logout": "ログアウト",
        "nav.switch_shop": "ストア",
        "nav.switch": "切り替え",
        "nav.main": "メインナビゲーション",
        "health.stalled": "自動化が停止しています：メールは送信されていません。バックグラウンドの"
        "ワーカーまたはスケジューラーが止まっています。`kizuna doctor` で原因を確認できます。",
        "login.title": "ログイン",
        "login.expired": "このログインリンクは期限切れ、使用済み、または無効です。",
        "login.help": "{demo} または {login_link} が表示するログインリンクを開いてください。",
        "empty.title": "最初のストアを接続しましょう",
        "empty.body": "このアカウントにはまだストアがありません。Shopify ストアを接続すると、"
        "顧客と注文が取り込まれます。",
        "empty.connect": "Shopify ストアを接続",
        "empty.cli": "またはターミナルから、カスタムアプリの Admin API トークンで接続します:",
        "home.title": "ストアの状態",
        "home.store": "ストア",
        "home.platform": "プラットフォーム",
        "home.domain": "ドメイン",
        "home.status": "インストール状態",
        "home.install_method": "インストール方法",
        "home.installed_at": "インストール日時",
        "home.uninstalled_at": "アンインストール日時",
        "home.timezone": "タイムゾーン",
        "home.currency": "通貨",
        "home.scopes": "API スコープ",
        "home.scopes_none": "スコープの記録がありません",
        "home.webhooks_subscribed": "Webhook の登録数",
        "home.missing_all_orders": "{scope} スコープが許可されていません。"
        "Shopify では直近 60 日間の注文しか読み取れないため、"
        "それ以前の履歴(RFM 分析や休眠顧客の掘り起こし)が不完全になります。"
        "アプリにこのスコープを申請し、再インストールしてください。",
        "home.missing_scopes": "アプリが要求しているのにストアが許可していないスコープ: {scopes}",
        "home.last_error": "直近のエラー",
        "home.last_error_at": "{when}",
        "home.uninstalled_notice": "このストアは Kizuna をアンインストールしました。"
        "同期とメール送信は停止しています。",
        "home.refreshing": "同期中は数秒ごとに更新されます。",
        "sync.title": "同期",
        "sync.status": "状態",
        "sync.stream": "現在の処理",
        "sync.stream_col": "データ",
        "sync.done_col": "取り込み済み",
        "sync.total_col": "予定",
        "sync.started_at": "開始",
        "sync.finished_at": "終了",
        "sync.elapsed": "経過時間",
        "sync.rate": "速度",
        "sync.eta": "残り時間",
        "sync.records_per_second": "毎秒 {rate} 件",
        "sync.error": "同期エラー",
        "sync.progress": "同期の進捗",
        "sync.no_streams": "まだ何も取り込まれていません。",
        "sync.status.not_started": "未開始",
        "sync.status.running": "同期中",
        "sync.status.done": "完了",
        "sync.status.failed": "失敗",
        "stream.customers": "顧客",
        "stream.orders": "注文",
        "stream.products": "商品",
        "stream.checkouts": "チェックアウト",
        "webhooks.title": "Webhook",
        "webhooks.received": "受信",
        "webhooks.processed": "処理済み",
        "webhooks.pending": "処理待ち",
        "webhooks.failed": "失敗",
        "webhooks.ignored": "対象外",
        "webhooks.rejected": "拒否(署名不正)",
        "webhooks.last_received_at": "最終受信",
        "webhooks.last_error": "直近の処理エラー",
        "webhooks.unavailable": "取得できません",
        "shop_status.installing": "インストール中",
        "shop_status.active": "有効",
        "shop_status.uninstalled": "アンインストール済み",
        "shop_status.error": "エラー",
        "platform.shopify": "Shopify",
        "platform.woocommerce": "WooCommerce",
        "install_method.managed": "Shopify 管理インストール",
        "install_method.code_grant": "OAuth(認可コード)",
        "install_method.custom_app": "カスタムアプリのトークン",
        "install_method.key_exchange": "WooCommerce キー交換",
        "customers.title": "顧客",
        "customers.search": "名前またはメールアドレスで検索",
        "customers.search_button": "検索",
        "customers.clear": "クリア",
        "customers.count": "{count} 人の顧客",
        "customers.count_one": "1 人の顧客",
        "customers.count_capped": "{count} 人以上の顧客",
        "customers.none": "顧客はまだいません。同期が進むとここに表示されます。",
        "customers.no_match": "「{q}」に一致する顧客はいません。",
        "customers.name": "名前",
        "customers.email": "メールアドレス",
        "customers.consent": "メール配信",
        "customers.orders": "注文数",
        "customers.total_spent": "購入総額",
        "customers.last_order": "最終注文日",
        "customers.next": "次へ",
        "customers.first_page": "最初のページ",
        "customers.pagination": "ページ",
        "consent.subscribed": "購読中",
        "consent.not_subscribed": "未購読",
        "consent.pending": "確認待ち",
        "consent.unsubscribed": "配信停止",
        "consent.redacted": "削除済み",
        "consent.invalid": "無効",
        "consent.unknown": "不明",
        "opt_in.single_opt_in": "シングルオプトイン",
        "opt_in.confirmed_opt_in": "ダブルオプトイン(確認済み)",
        "opt_in.unknown": "不明",
        "customer.back": "顧客一覧",
        "customer.profile": "プロフィール",
        "customer.email": "メールアドレス",
        "customer.phone": "電話番号",
        "customer.locale": "言語",
        "customer.country": "国",
        "customer.city": "市区町村",
        "customer.tags": "タグ",
        "customer.since": "顧客登録日",
        "customer.external_id": "プラットフォーム ID",
        "customer.deleted": "プラットフォームで削除済み",
        "customer.redacted": "個人データ消去済み",
        "customer.consent": "メールマーケティングの同意",
        "customer.consent_state": "状態",
        "customer.opt_in_level": "オプトインの種類",
        "customer.consent_updated_at": "更新日時",
        "customer.totals": "集計",
        "customer.orders_count": "注文数",
        "customer.total_spent": "購入総額",
        "customer.first_order": "初回注文",
        "customer.last_order": "最終注文",
        "customer.orders": "注文",
        "customer.no_orders": "注文はまだありません。",
        "customer.checkouts": "未完了のチェックアウト",
        "customer.no_checkouts": "未完了のチェックアウトはありません。",
        "customer.recover": "カート復元リンク",
        "customer.timeline": "タイムライン",
        "customer.no_timeline": "まだ履歴はありません。",
        "customer.timeline_limited": "最新の {count} 件を表示しています。",
        "order.name": "注文",
        "order.date": "日付",
        "order.status": "状態",
        "order.total": "合計",
        "order.items": "商品",
        "order.cancelled": "キャンセル済み",
        "order.item": "商品",
        "order.sku": "SKU",
        "order.quantity": "数量",
        "order.price": "価格",
        "order.no_lines": "商品明細はありません。",
        "financial.paid": "支払い済み",
        "financial.pending": "支払い待ち",
        "financial.authorized": "オーソリ済み",
        "financial.partially_paid": "一部支払い済み",
        "financial.refunded": "返金済み",
        "financial.partially_refunded": "一部返金済み",
        "financial.voided": "無効",
        "fulfillment.fulfilled": "発送済み",
        "fulfillment.unfulfilled": "未発送",
        "fulfillment.partial": "一部発送済み",
        "fulfillment.partially_fulfilled": "一部発送済み",
        "fulfillment.restocked": "在庫戻し済み",
        "checkout.started": "開始",
        "checkout.total": "合計",
        "checkout.items": "商品",
        "checkout.item_count": "{count} 点",
        "timeline.order_placed": "注文しました",
        "timeline.order_cancelled": "注文をキャンセルしました",
        "timeline.checkout_started": "チェックアウトを開始しました",
        "timeline.checkout_abandoned": "カートを放棄しました",
        "timeline.checkout_completed": "チェックアウトを完了しました",
        "timeline.consent_changed": "メール配信の同意が変わりました",
        "timeline.customer_created": "顧客になりました",
        "timeline.message_sent": "メールを送信しました",
        "timeline.message_opened": "メールを開封しました",
        "timeline.message_clicked": "メールのリンクをクリックしました",
        "timeline.unsubscribed": "配信を停止しました",
        "common.none": "—",
        "common.yes": "はい",
        "common.no": "いいえ",
    },
}


def normalize_language(value: str | None) -> str | None:
    """`ja-JP` / `ja_JP` / `JA` → `ja`; None when the language is not one the admin speaks."""
    primary = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in SUPPORTED else None


def choose_language(
    locale_param: str | None, accept_language: str | None, shop_locale: str | None
) -> str:
    """The admin's language from the request and the shop (see the module docstring)."""
    if locale_param:
        # Shopify tells us the admin user's own language: honour it even when we lack it.
        return normalize_language(locale_param) or DEFAULT_LANGUAGE
    if accept_language:
        from werkzeug.datastructures import LanguageAccept
        from werkzeug.http import parse_accept_header

        best = parse_accept_header(accept_language, LanguageAccept).best_match(SUPPORTED)
        if best:
            return best
    return normalize_language(shop_locale) or DEFAULT_LANGUAGE


def current_language() -> str:
    """The language of the current request (English outside a request)."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    shop = g.get("shop")
    cached = g.get("_i18n_language")
    # Cached per request, keyed on the shop: the guard sets `g.shop` before any page renders.
    if cached is not None and cached[0] is shop:
        return str(cached[1])
    language = choose_language(
        request.args.get("locale"),
        request.headers.get("Accept-Language"),
        shop.locale if shop is not None else None,
    )
    g._i18n_language = (shop, language)
    return language


def translate(language: str, key: str, default: str | None = None, **values: Any) -> str:
    """The message `key` in `language` (English, then `default`, then the key as fallbacks)."""
    message = MESSAGES.get(language, {}).get(key) or MESSAGES[DEFAULT_LANGUAGE].get(key)
    if message is None:
        message = default if default is not None else key
    if not values:
        return message
    try:
        return message.format(**values)
    except (KeyError, IndexError, ValueError):
        return message


def t(key: str, default: str | None = None, **values: Any) -> str:
    """`t("customers.count", count="1,204")` in the request's language; a Jinja global."""
    return translate(current_language(), key, default, **values)


# Segments, analytics and the customer's RFM + predictions card.
MESSAGES["en"].update(
    {
        "nav.segments": "Segments",
        "nav.analytics": "Analytics",
        "confidence.high": "High confidence",
        "confidence.medium": "Medium confidence",
        "confidence.low": "Low confidence",
        "segments.title": "RFM segments",
        "segments.not_scored": "Customers have not been scored yet. Scores are computed every "
        "night and after the first sync of a store.",
        "segments.confidence_label": "Predictions: {level}.",
        "segments.as_of": "Scored on {date}",
        "segments.grid_title": "RFM grid",
        "segments.grid_x": "Recency (R5 = ordered most recently)",
        "segments.grid_y": "Frequency + monetary",
        "segments.grid_help": "Each cell shows its group, the number of customers and their "
        "total spend; darker cells hold more customers. FM is the average of the frequency "
        "and monetary scores, rounded down.",
        "segments.scored": "Customers scored",
        "segments.revenue": "Revenue",
        "segments.model": "Prediction model",
        "segments.model.fitted": "Fitted to this store",
        "segments.model.prior_blended": "Industry priors + this store",
        "segments.group": "Group",
        "segments.customers": "Customers",
        "segments.share": "Share",
        "segments.predicted_clv": "Predicted value (365 days)",
        "segments.change": "Change",
        "segments.movement": "Movement between groups",
        "segments.movement_since": "Customers whose group changed since {date}.",
        "segments.from": "From",
        "segments.to": "To",
        "segments.no_movement": "No movement yet: it appears after customers have been "
        "scored on two different days.",
        "segments.cell_customers": "{count} customers",
        "segments.cell_title": "R{r} · FM{fm} · {group}: {count} customers, {revenue}",
        "analytics.title": "Analytics",
        "analytics.customers": "Customers with orders",
        "analytics.total_revenue": "Revenue from customers (all time)",
        "analytics.repeat_rate": "Repeat-purchase rate",
        "analytics.churn_rate": "Churned",
        "analytics.historic_ltv": "Average LTV (so far)",
        "analytics.predicted_ltv": "Average predicted value (next 365 days)",
        "analytics.definitions": "Cancelled orders are left out. Repeat-purchase rate: "
        "customers with 2 or more orders among customers with an order. Churned: last order "
        "more than {days} days ago, or a predicted probability of still being active below "
        "{p}%. Predictions are refreshed every night.",
        "analytics.revenue_title": "Revenue by month",
        "analytics.period_total": "Last 24 months: {total}",
        "analytics.cohort_title": "Retention by first-order month",
        "analytics.cohort_help": "Each row is the customers whose first order fell in that "
        "month (their number in brackets); each cell the share of them who ordered again "
        "that many months later.",
        "analytics.cohort_x": "Months after the first order",
        "analytics.cohort_cell": "{cohort}, {months} months later: {count} of {size} customers",
        "analytics.months_later": "+{months}",
        "analytics.orders_n": "{count} orders",
        "analytics.no_orders": "No orders yet",
        "rfm.title": "RFM and predictions",
        "rfm.cell": "RFM cell",
        "rfm.group": "Group",
        "rfm.p_alive": "Probability still active",
        "rfm.expected_orders": "Expected orders (next 365 days)",
        "rfm.next_order": "Expected next order",
        "rfm.no_next_order": "Not expected within a year",
        "rfm.predicted_clv": "Predicted value (next 365 days)",
        "rfm.computed_at": "Scored",
        "rfm.not_scored": "Not scored yet: customers are scored every night once they have "
        "an order.",
    }
)
MESSAGES["ja"].update(
    {
        "nav.segments": "セグメント",
        "nav.analytics": "分析",
        "confidence.high": "信頼度：高",
        "confidence.medium": "信頼度：中",
        "confidence.low": "信頼度：低",
        "segments.title": "RFMセグメント",
        "segments.not_scored": "顧客のスコアはまだ計算されていません。スコアは毎晩、"
        "およびストアの初回同期の後に計算されます。",
        "segments.confidence_label": "予測：{level}。",
        "segments.as_of": "{date} 時点のスコア",
        "segments.grid_title": "RFMグリッド",
        "segments.grid_x": "最新購入日（R5＝最近購入）",
        "segments.grid_y": "購入頻度＋購入金額",
        "segments.grid_help": "各セルにはグループ名、顧客数、累計購入金額を表示します。"
        "色が濃いほど顧客が多いセルです。FMは購入頻度と購入金額のスコアの平均（切り捨て）です。",
        "segments.scored": "スコア対象の顧客",
        "segments.revenue": "売上",
        "segments.model": "予測モデル",
        "segments.model.fitted": "このストアのデータで推定",
        "segments.model.prior_blended": "業界の事前分布＋このストア",
        "segments.group": "グループ",
        "segments.customers": "顧客数",
        "segments.share": "割合",
        "segments.predicted_clv": "予測購入額（365日）",
        "segments.change": "増減",
        "segments.movement": "グループ間の移動",
        "segments.movement_since": "{date} 以降にグループが変わった顧客。",
        "segments.from": "移動元",
        "segments.to": "移動先",
        "segments.no_movement": "移動はまだありません。2日以上スコアを計算すると表示されます。",
        "segments.cell_customers": "{count}人",
        "segments.cell_title": "R{r}・FM{fm}・{group}：{count}人、{revenue}",
        "analytics.title": "分析",
        "analytics.customers": "購入のある顧客",
        "analytics.total_revenue": "顧客の売上（全期間）",
        "analytics.repeat_rate": "リピート率",
        "analytics.churn_rate": "離反率",
        "analytics.historic_ltv": "平均LTV（実績）",
        "analytics.predicted_ltv": "平均予測購入額（今後365日）",
        "analytics.definitions": "キャンセルされた注文は除きます。リピート率：注文のある顧客のうち"
        "2回以上注文した顧客の割合。離反：最終注文から{days}日超、または予測される"
        "継続確率が{p}%未満の顧客。予測は毎晩更新されます。",
        "analytics.revenue_title": "月別売上",
        "analytics.period_total": "過去24か月：{total}",
        "analytics.cohort_title": "初回購入月別の継続率",
        "analytics.cohort_help": "各行はその月に初めて注文した顧客（括弧内は人数）、"
        "各セルはその何か月後に再度注文した顧客の割合です。",
        "analytics.cohort_x": "初回購入からの月数",
        "analytics.cohort_cell": "{cohort}・{months}か月後：{size}人中{count}人",
        "analytics.months_later": "+{months}",
        "analytics.orders_n": "{count}件",
        "analytics.no_orders": "注文はまだありません",
        "rfm.title": "RFMと予測",
        "rfm.cell": "RFMセル",
        "rfm.group": "グループ",
        "rfm.p_alive": "継続確率",
        "rfm.expected_orders": "予測注文数（今後365日）",
        "rfm.next_order": "次回注文予測日",
        "rfm.no_next_order": "1年以内の注文は見込まれません",
        "rfm.predicted_clv": "予測購入額（今後365日）",
        "rfm.computed_at": "計算日時",
        "rfm.not_scored": "まだスコアがありません。注文のある顧客は毎晩スコアが計算されます。",
    }
)

# Password login, CSRF refusals and inquiries.
MESSAGES["en"].update(
    {
        "login.email": "Email",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.invalid": "The email or password is not correct.",
        "login.missing": "Enter your email and password.",
        "login.form_expired": "This form has expired. Please sign in again.",
        "login.rate_limited": "Too many failed sign-in attempts from this address. "
        "Wait a few minutes, then try again.",
        "login.link_confirm": "Sign in to Kizuna with this login link? It works once.",
        "login.link_needs_script": "This page needs JavaScript to read the login link.",
        "nav.logout_everywhere": "Log out everywhere",
        "nav.password": "Password",
        "password.title": "Change your password",
        "password.body": "A new password signs out every other browser signed in to this account.",
        "password.current": "Current password",
        "password.new": "New password (at least 8 characters)",
        "password.repeat": "Repeat the new password",
        "password.submit": "Change password",
        "password.done": "Your password was changed. Other browsers were signed out.",
        "password.wrong_current": "The current password is not correct.",
        "password.too_short": "The new password needs at least 8 characters.",
        "password.too_long": "The new password is too long.",
        "password.mismatch": "The two new passwords are not the same.",
        "password.none_yet": "No password yet? Set one from a terminal with {command}.",
        "login.password_help": "No password yet? Set one from a terminal with {command}.",
        "csrf.title": "This form has expired",
        "csrf.body": "The page was open too long or came from another site. Go back, reload the "
        "page and submit it again.",
        "csrf.back": "Back to Kizuna",
        "inquiry.title": "Inquiries",
        "inquiry.none": "No inquiries logged for this customer.",
        "inquiry.new": "Log an inquiry",
        "inquiry.subject": "Subject",
        "inquiry.notes": "Notes",
        "inquiry.channel": "Channel",
        "inquiry.kind": "Type",
        "inquiry.status": "Status",
        "inquiry.submit": "Log inquiry",
        "inquiry.resolve": "Mark resolved",
        "inquiry.logged": "Inquiry logged.",
        "inquiry.resolved_flash": "Inquiry marked resolved.",
        "inquiry.invalid": "The inquiry was not saved: {problem}",
        "inquiry.problem.subject": "a subject is required (up to 200 characters).",
        "inquiry.problem.notes": "notes are limited to 5,000 characters.",
        "inquiry.problem.channel": "choose a channel.",
        "inquiry.problem.kind": "choose a type.",
        "inquiry.marketing_paused": "Marketing emails to this customer are paused while a "
        "complaint is open.",
        "inquiry.channel.email": "Email",
        "inquiry.channel.phone": "Phone",
        "inquiry.channel.chat": "Chat",
        "inquiry.channel.in_person": "In person",
        "inquiry.channel.other": "Other",
        "inquiry.kind.question": "Question",
        "inquiry.kind.complaint": "Complaint",
        "inquiry.kind.other": "Other",
        "inquiry.status.open": "Open",
        "inquiry.status.resolved": "Resolved",
        "timeline.inquiry_opened": "Inquiry logged",
        "timeline.inquiry_resolved": "Inquiry resolved",
    }
)
MESSAGES["ja"].update(
    {
        "login.email": "メールアドレス",
        "login.password": "パスワード",
        "login.submit": "ログイン",
        "login.invalid": "メールアドレスまたはパスワードが正しくありません。",
        "login.missing": "メールアドレスとパスワードを入力してください。",
        "login.form_expired": "フォームの有効期限が切れました。もう一度ログインしてください。",
        "login.rate_limited": "このアドレスからのログインの失敗が多すぎます。"
        "数分待ってから、もう一度お試しください。",
        "login.link_confirm": "このログインリンクで Kizuna にログインしますか？"
        "リンクは一度だけ使えます。",
        "login.link_needs_script": "このページでログインリンクを読み取るには "
        "JavaScript が必要です。",
        "nav.logout_everywhere": "すべての端末からログアウト",
        "nav.password": "パスワード",
        "password.title": "パスワードの変更",
        "password.body": "新しいパスワードにすると、このアカウントにログインしている"
        "他のブラウザはすべてログアウトされます。",
        "password.current": "現在のパスワード",
        "password.new": "新しいパスワード（8文字以上）",
        "password.repeat": "新しいパスワード（確認）",
        "password.submit": "パスワードを変更",
        "password.done": "パスワードを変更しました。他のブラウザはログアウトされました。",
        "password.wrong_current": "現在のパスワードが正しくありません。",
        "password.too_short": "新しいパスワードは8文字以上にしてください。",
        "password.too_long": "新しいパスワードが長すぎます。",
        "password.mismatch": "確認用のパスワードが一致しません。",
        "password.none_yet": "パスワードが未設定の場合は、ターミナルで {command} を"
        "実行してください。",
        "login.password_help": "パスワードが未設定の場合は、ターミナルで {command} を"
        "実行してください。",
        "csrf.title": "フォームの有効期限が切れました",
        "csrf.body": "ページを長く開いたままにしていたか、別のサイトから送信されました。"
        "ページを再読み込みして、もう一度送信してください。",
        "csrf.back": "Kizuna に戻る",
        "inquiry.title": "問い合わせ",
        "inquiry.none": "この顧客の問い合わせはまだありません。",
        "inquiry.new": "問い合わせを記録",
        "inquiry.subject": "件名",
        "inquiry.notes": "メモ",
        "inquiry.channel": "チャネル",
        "inquiry.kind": "種類",
        "inquiry.status": "状態",
        "inquiry.submit": "記録する",
        "inquiry.resolve": "解決済みにする",
        "inquiry.logged": "問い合わせを記録しました。",
        "inquiry.resolved_flash": "問い合わせを解決済みにしました。",
        "inquiry.invalid": "問い合わせは保存されませんでした：{problem}",
        "inquiry.problem.subject": "件名を入力してください（200文字まで）。",
        "inquiry.problem.notes": "メモは5,000文字までです。",
        "inquiry.problem.channel": "チャネルを選んでください。",
        "inquiry.problem.kind": "種類を選んでください。",
        "inquiry.marketing_paused": "未解決の苦情があるため、この顧客へのマーケティングメールは"
        "停止中です。",
        "inquiry.channel.email": "メール",
        "inquiry.channel.phone": "電話",
        "inquiry.channel.chat": "チャット",
        "inquiry.channel.in_person": "対面",
        "inquiry.channel.other": "その他",
        "inquiry.kind.question": "質問",
        "inquiry.kind.complaint": "苦情",
        "inquiry.kind.other": "その他",
        "inquiry.status.open": "未解決",
        "inquiry.status.resolved": "解決済み",
        "timeline.inquiry_opened": "問い合わせを記録",
        "timeline.inquiry_resolved": "問い合わせを解決",
    }
)


# Flows: settings, preview, performance; the outbox.
MESSAGES["en"].update(
    {
        "nav.flows": "Flows",
        "nav.outbox": "Outbox",
        "flows.title": "Flows",
        "flows.name.cart": "Abandoned cart",
        "flows.on": "On",
        "flows.off": "Off",
        "flows.edit": "Settings",
        "flows.back": "All flows",
        "flows.summary": "Emails {d1} h, {d2} h and {d3} h after the cart was left; "
        "holdout {holdout} %.",
        "flows.period": "Last {days} days.",
        "flows.stat.runs": "Carts entered",
        "flows.stat.sent": "Sent",
        "flows.stat.delivered": "Delivered",
        "flows.stat.opened": "Opened",
        "flows.stat.clicked": "Clicked",
        "flows.stat.orders": "Attributed orders",
        "flows.stat.revenue": "Attributed revenue",
        "flows.attribution_help": "Attributed: orders placed in the period whose last touch within "
        "{days} days before the order was an email of this flow (each order counts once; "
        "cancelled orders are left out).",
        "flows.lift.title": "Holdout comparison",
        "flows.lift.runs": "Carts",
        "flows.lift.conversions": "Ordered",
        "flows.lift.rate": "Conversion",
        "flows.lift.revenue": "Revenue",
        "flows.lift.treated": "Emailed group",
        "flows.lift.holdout": "Holdout (no emails)",
        "flows.lift.difference": "Conversion lift: {value} points (95 % CI {low} to {high}).",
        "flows.lift.incremental": "Incremental revenue: {value} (95 % CI {low} to {high}).",
        "flows.lift.not_enough": "Not enough data yet: the comparison needs at least {runs} "
        "carts in each group and {conversions} orders in all.",
        "flows.lift.help": "Both groups count orders within {days} days after the cart entered "
        "the flow, whether or not an email went out (intention to treat). The interval is the "
        "normal approximation for a difference of proportions.",
        "flows.section.steps": "Timing",
        "flows.section.discount": "Discount in email 2",
        "flows.section.subjects": "Subject lines",
        "flows.section.audience": "Holdout and frequency",
        "flows.section.quiet": "Quiet hours",
        "flows.delays_help": "Hours after the cart was left; each email later than the one before.",
        "flows.subjects_help": "Leave empty to use the built-in subject.",
        "flows.holdout_help": "This share of carts gets no email, to measure what the flow adds.",
        "flows.cap_help": "At most this many marketing emails per customer (0 = no limit); "
        "a held-back email is sent later, not dropped.",
        "flows.field.enabled": "Flow is on",
        "flows.field.delay": "Email {step} after",
        "flows.field.discount_percent": "Discount (0 = no code)",
        "flows.field.discount_days": "Code valid for",
        "flows.field.discount_min_total": "Only for carts of at least (0 = every cart)",
        "flows.field.subject": "Email {step} subject ({lang_name})",
        "flows.field.holdout": "Holdout share",
        "flows.field.cap_short": "Emails per 16 hours",
        "flows.field.cap_week": "Emails per week",
        "flows.field.quiet_enabled": "Send no email at night ({zone})",
        "flows.field.quiet_start": "From",
        "flows.field.quiet_end": "Until",
        "flows.language.ja": "Japanese",
        "flows.language.en": "English",
        "flows.unit.hours": "hours",
        "flows.unit.days": "days",
        "flows.save": "Save",
        "flows.saved": "Settings saved.",
        "flows.has_errors": "Some values are not valid; nothing was saved.",
        "flows.error.required": "Enter a value.",
        "flows.error.integer": "Enter a whole number.",
        "flows.error.number": "Enter a number.",
        "flows.error.range": "Enter a value from {low} to {high}.",
        "flows.error.delay_order": "Must be later than email {step}.",
        "flows.error.cap_order": "Cannot be lower than the 16-hour limit.",
        "flows.error.time": "Enter a time as HH:MM.",
        "flows.error.quiet_same": "Start and end must differ.",
        "flows.error.too_long": "At most {max} characters.",
        "flows.preview.title": "Preview",
        "flows.preview.customer": "Customer ID",
        "flows.preview.show": "Show",
        "flows.preview.none": "No customer has an abandoned checkout yet: enter a customer ID.",
        "flows.preview.no_checkout": "This customer has no checkout in this store.",
        "flows.preview.for": "For {name} (customer {id}), checkout {checkout}.",
        "flows.preview.help": "Rendered as the sender does, in the customer's language. The "
        "discount code is created only when email 2 is sent; links are inactive here.",
        "flows.preview.step": "Email {step}",
        "flows.preview.text": "Plain-text version",
        "outbox.title": "Outbox",
        "outbox.source.sandbox": "Emails accepted by the simulated SendGrid for this store "
        "(latest first).",
        "outbox.source.messages": "Emails Kizuna sent for this store (latest first).",
        "outbox.unavailable": "The simulated SendGrid did not answer.",
        "outbox.empty": "No emails yet.",
        "outbox.to": "To",
        "outbox.subject": "Subject",
        "outbox.categories": "Categories",
        "outbox.status": "Status",
        "outbox.time": "Time",
        "message.status.pending": "Pending",
        "message.status.sending": "Sending",
        "message.status.sent": "Sent",
        "message.status.unknown": "Unknown",
        "message.status.failed": "Failed",
        "message.status.suppressed": "Suppressed",
        "message.status.skipped": "Skipped",
    }
)
MESSAGES["ja"].update(
    {
        "nav.flows": "フロー",
        "nav.outbox": "送信済みメール",
        "flows.title": "フロー",
        "flows.name.cart": "カート放棄",
        "flows.on": "オン",
        "flows.off": "オフ",
        "flows.edit": "設定",
        "flows.back": "フロー一覧",
        "flows.summary": "カート放棄から {d1} 時間・{d2} 時間・{d3} 時間後にメール送信、"
        "ホールドアウト {holdout}%。",
        "flows.period": "直近 {days} 日間。",
        "flows.stat.runs": "対象カート",
        "flows.stat.sent": "送信",
        "flows.stat.delivered": "配信",
        "flows.stat.opened": "開封",
        "flows.stat.clicked": "クリック",
        "flows.stat.orders": "貢献注文",
        "flows.stat.revenue": "貢献売上",
        "flows.attribution_help": "期間内の注文のうち、注文前 {days} "
        "日以内の最後の接点がこのフローの"
        "メールだったものを貢献注文とします(1 注文は 1 回のみ数え、キャンセル注文は除外)。",
        "flows.lift.title": "ホールドアウト比較",
        "flows.lift.runs": "カート数",
        "flows.lift.conversions": "注文あり",
        "flows.lift.rate": "コンバージョン率",
        "flows.lift.revenue": "売上",
        "flows.lift.treated": "送信グループ",
        "flows.lift.holdout": "ホールドアウト(送信なし)",
        "flows.lift.difference": "コンバージョン率の差:{value} ポイント"
        "(95% 信頼区間 {low}〜{high})。",
        "flows.lift.incremental": "増分売上:{value}(95% 信頼区間 {low}〜{high})。",
        "flows.lift.not_enough": "データが不足しています:各グループ {runs} 件以上のカートと、"
        "合計 {conversions} 件以上の注文が必要です。",
        "flows.lift.help": "両グループとも、フロー開始から {days} 日以内の注文を数えます"
        "(メール送信の有無にかかわらず)。信頼区間は比率の差の正規近似です。",
        "flows.section.steps": "タイミング",
        "flows.section.discount": "2 通目の割引",
        "flows.section.subjects": "件名",
        "flows.section.audience": "ホールドアウトと送信頻度",
        "flows.section.quiet": "送信停止時間帯",
        "flows.delays_help": "カート放棄からの時間。各メールは前のメールより後にしてください。",
        "flows.subjects_help": "空欄の場合は標準の件名を使います。",
        "flows.holdout_help": "この割合のカートにはメールを送らず、フローの効果を測定します。",
        "flows.cap_help": "顧客 1 人あたりのマーケティングメールの上限(0 = 上限なし)。"
        "上限で止められたメールは破棄されず、後で送信されます。",
        "flows.field.enabled": "フローを有効にする",
        "flows.field.delay": "{step} 通目の送信",
        "flows.field.discount_percent": "割引率(0 = コードなし)",
        "flows.field.discount_days": "コードの有効期間",
        "flows.field.discount_min_total": "対象のカート金額の下限(0 = すべてのカート)",
        "flows.field.subject": "{step} 通目の件名({lang_name})",
        "flows.field.holdout": "ホールドアウトの割合",
        "flows.field.cap_short": "16 時間あたりの通数",
        "flows.field.cap_week": "1 週間あたりの通数",
        "flows.field.quiet_enabled": "夜間はメールを送らない({zone})",
        "flows.field.quiet_start": "開始",
        "flows.field.quiet_end": "終了",
        "flows.language.ja": "日本語",
        "flows.language.en": "英語",
        "flows.unit.hours": "時間後",
        "flows.unit.days": "日間",
        "flows.save": "保存",
        "flows.saved": "設定を保存しました。",
        "flows.has_errors": "入力内容に誤りがあります。保存されていません。",
        "flows.error.required": "値を入力してください。",
        "flows.error.integer": "整数を入力してください。",
        "flows.error.number": "数値を入力してください。",
        "flows.error.range": "{low} から {high} までの値を入力してください。",
        "flows.error.delay_order": "{step} 通目より後にしてください。",
        "flows.error.cap_order": "16 時間あたりの通数より少なくできません。",
        "flows.error.time": "HH:MM の形式で入力してください。",
        "flows.error.quiet_same": "開始と終了を別の時刻にしてください。",
        "flows.error.too_long": "{max} 文字以内で入力してください。",
        "flows.preview.title": "プレビュー",
        "flows.preview.customer": "顧客 ID",
        "flows.preview.show": "表示",
        "flows.preview.none": "カートを放棄した顧客がまだいません。顧客 ID を入力してください。",
        "flows.preview.no_checkout": "この顧客にはこのストアのチェックアウトがありません。",
        "flows.preview.for": "{name} さん(顧客 {id})、チェックアウト {checkout}。",
        "flows.preview.help": "送信時と同じ方法で、顧客の言語で表示しています。"
        "割引コードは 2 通目の送信時にのみ作成されます。ここではリンクは無効です。",
        "flows.preview.step": "{step} 通目",
        "flows.preview.text": "テキスト版",
        "outbox.title": "送信済みメール",
        "outbox.source.sandbox": "シミュレーションの SendGrid がこのストア宛てに受け付けたメール"
        "(新しい順)。",
        "outbox.source.messages": "Kizuna がこのストアで送信したメール(新しい順)。",
        "outbox.unavailable": "シミュレーションの SendGrid から応答がありません。",
        "outbox.empty": "まだメールはありません。",
        "outbox.to": "宛先",
        "outbox.subject": "件名",
        "outbox.categories": "カテゴリ",
        "outbox.status": "状態",
        "outbox.time": "日時",
        "message.status.pending": "送信待ち",
        "message.status.sending": "送信中",
        "message.status.sent": "送信済み",
        "message.status.unknown": "不明",
        "message.status.failed": "失敗",
        "message.status.suppressed": "配信停止",
        "message.status.skipped": "スキップ",
    }
)

# customer page: messages, flow runs, suppression, other stores
MESSAGES["en"].update(
    {
        "customer.messages": "Email",
        "customer.suppressed": "Suppressed",
        "customer.message_flow": "Flow",
        "customer.message_subject": "Subject",
        "customer.message_status": "Status",
        "customer.message_events": "Events",
        "customer.message_step": "email {step}",
        "customer.no_messages": "No email sent to this customer yet.",
        "customer.flow_runs": "Flow runs",
        "customer.run_status": "State",
        "customer.run_started": "Started",
        "customer.run_next": "Next step",
        "customer.no_flow_runs": "This customer has not entered a flow.",
        "customer.other_stores": "Orders in your other stores",
        "run.status.running": "Running",
        "run.status.exited": "Exited",
        "run.status.completed": "Completed",
        "run.status.holdout": "Holdout (no email)",
        "run.exit.ordered": "ordered",
        "run.exit.checkout_completed": "checkout completed",
        "run.exit.no_consent": "no consent",
        "run.exit.suppressed": "suppressed",
        "run.exit.flow_disabled": "flow turned off",
        "run.exit.customer_gone": "customer deleted",
        "run.exit.shop_inactive": "store inactive",
        "message.event.processed": "processed",
        "message.event.delivered": "delivered",
        "message.event.open": "opened",
        "message.event.click": "clicked",
        "message.event.bounce": "bounced",
        "message.event.dropped": "dropped",
        "message.event.deferred": "deferred",
        "message.event.spamreport": "spam report",
        "message.event.unsubscribe": "unsubscribed",
        "message.event.group_unsubscribe": "unsubscribed (group)",
        "suppression.bounce": "The address bounced.",
        "suppression.dropped": "SendGrid dropped a message to this address.",
        "suppression.spamreport": "Marked an email as spam.",
        "suppression.unsubscribe": "Unsubscribed.",
        "suppression.group_unsubscribe": "Unsubscribed from this kind of email.",
    }
)
MESSAGES["ja"].update(
    {
        "customer.messages": "メール",
        "customer.suppressed": "配信停止中",
        "customer.message_flow": "フロー",
        "customer.message_subject": "件名",
        "customer.message_status": "状態",
        "customer.message_events": "イベント",
        "customer.message_step": "{step} 通目",
        "customer.no_messages": "この顧客へのメール送信はまだありません。",
        "customer.flow_runs": "フローの実行",
        "customer.run_status": "状態",
        "customer.run_started": "開始",
        "customer.run_next": "次のステップ",
        "customer.no_flow_runs": "この顧客はまだフローに入っていません。",
        "customer.other_stores": "他のストアでの注文",
        "run.status.running": "実行中",
        "run.status.exited": "終了",
        "run.status.completed": "完了",
        "run.status.holdout": "ホールドアウト(送信なし)",
        "run.exit.ordered": "注文済み",
        "run.exit.checkout_completed": "チェックアウト完了",
        "run.exit.no_consent": "同意なし",
        "run.exit.suppressed": "配信停止",
        "run.exit.flow_disabled": "フロー停止",
        "run.exit.customer_gone": "顧客削除",
        "run.exit.shop_inactive": "ストア停止中",
        "message.event.processed": "処理済み",
        "message.event.delivered": "配信",
        "message.event.open": "開封",
        "message.event.click": "クリック",
        "message.event.bounce": "バウンス",
        "message.event.dropped": "破棄",
        "message.event.deferred": "遅延",
        "message.event.spamreport": "迷惑メール報告",
        "message.event.unsubscribe": "配信停止",
        "message.event.group_unsubscribe": "配信停止(グループ)",
        "suppression.bounce": "アドレスがバウンスしました。",
        "suppression.dropped": "SendGrid がこのアドレスへのメールを破棄しました。",
        "suppression.spamreport": "メールが迷惑メールとして報告されました。",
        "suppression.unsubscribe": "配信停止済みです。",
        "suppression.group_unsubscribe": "この種類のメールの配信を停止しました。",
    }
)

# home: email by state
MESSAGES["en"].update(
    {
        "email_status.title": "Email, last 7 days",
        "email_status.unknown_help": "Unknown: a worker stopped while SendGrid was answering. "
        "Such an email is never sent twice; SendGrid's events settle it when they arrive.",
    }
)
MESSAGES["ja"].update(
    {
        "email_status.title": "メール(過去 7 日間)",
        "email_status.unknown_help": "不明:SendGrid の応答中に処理が停止したメールです。"
        "二重送信はしません。SendGrid のイベントが届くと確定します。",
    }
)

# all stores
MESSAGES["en"].update(
    {
        "nav.stores": "All stores",
        "stores.title": "All stores",
        "stores.count": "Stores",
        "stores.customers": "Customers",
        "stores.shared_people": "People who shop in more than one store",
        "stores.store": "Store",
        "stores.state": "State",
        "stores.orders_30d": "Orders, 30 days",
        "stores.revenue_30d": "Revenue, 30 days",
        "stores.orders_n": "{count} orders",
        "stores.emails_7d": "Email sent, 7 days",
        "stores.status.active": "Active",
        "stores.status.installing": "Installing",
        "stores.status.uninstalled": "Uninstalled",
        "stores.help": "Revenue is shown per currency and never converted. A person is one email "
        "address across your stores.",
    }
)
MESSAGES["ja"].update(
    {
        "nav.stores": "全ストア",
        "stores.title": "全ストア",
        "stores.count": "ストア数",
        "stores.customers": "顧客数",
        "stores.shared_people": "複数のストアで購入している人",
        "stores.store": "ストア",
        "stores.state": "状態",
        "stores.orders_30d": "注文数(30 日)",
        "stores.revenue_30d": "売上(30 日)",
        "stores.orders_n": "{count} 件の注文",
        "stores.emails_7d": "送信メール(7 日)",
        "stores.status.active": "稼働中",
        "stores.status.installing": "インストール中",
        "stores.status.uninstalled": "アンインストール済み",
        "stores.help": "売上は通貨ごとに表示し、換算はしません。人"
        "はストアをまたいだ同じメールアドレスです。",
    }
)
# RFM score boundaries and the group map (segments page)
MESSAGES["en"].update(
    {
        "rfm_thresholds.title": "Score boundaries",
        "rfm_thresholds.help": "Each dimension scores customers from 1 to 5. Automatic "
        "boundaries split this store's customers into fifths (quintiles), or use standard "
        "boundaries while the store is small. Saving rescores every customer.",
        "rfm_thresholds.dimension.recency_days": "Recency: days since the last order",
        "rfm_thresholds.dimension.frequency_orders": "Frequency: number of orders",
        "rfm_thresholds.dimension.monetary": "Monetary: total spent, in the store's currency",
        "rfm_thresholds.source.custom": "in use: custom",
        "rfm_thresholds.source.quintiles": "in use: quintiles",
        "rfm_thresholds.source.standard": "in use: standard boundaries",
        "rfm_thresholds.mode.auto": "Automatic",
        "rfm_thresholds.mode.custom": "Custom",
        "rfm_thresholds.edge.recency_days.1": "R5: ordered within (days)",
        "rfm_thresholds.edge.recency_days.2": "R4: within (days)",
        "rfm_thresholds.edge.recency_days.3": "R3: within (days)",
        "rfm_thresholds.edge.recency_days.4": "R2: within (days); longer ago is R1",
        "rfm_thresholds.edge.frequency_orders.1": "F2 from (orders)",
        "rfm_thresholds.edge.frequency_orders.2": "F3 from (orders)",
        "rfm_thresholds.edge.frequency_orders.3": "F4 from (orders)",
        "rfm_thresholds.edge.frequency_orders.4": "F5 from (orders)",
        "rfm_thresholds.edge.monetary.1": "M2 from (spent)",
        "rfm_thresholds.edge.monetary.2": "M3 from (spent)",
        "rfm_thresholds.edge.monetary.3": "M4 from (spent)",
        "rfm_thresholds.edge.monetary.4": "M5 from (spent)",
        "rfm_thresholds.save": "Save boundaries",
        "rfm_thresholds.automatic": "Use automatic boundaries everywhere",
        "rfm_thresholds.saved": "Saved. Customers were scored again with these boundaries.",
        "rfm_thresholds.saved_queued": "Saved. Customers are being scored again with these "
        "boundaries; the new scores appear here within a few minutes.",
        "rfm_thresholds.has_errors": "Some boundaries are not valid, so nothing was saved.",
        "rfm_thresholds.error.required": "Enter a value.",
        "rfm_thresholds.error.integer": "Enter a whole number.",
        "rfm_thresholds.error.number": "Enter a number.",
        "rfm_thresholds.error.places": "Use at most {places} decimal places.",
        "rfm_thresholds.error.range": "Enter a value from {low} to {high}.",
        "rfm_thresholds.error.ascending": "Must be larger than the boundary before it.",
        "rfm_thresholds.error.mode": "Choose automatic or custom.",
        "segments.mapping_title": "Which cells make each group",
        "segments.mapping_help": "R is the recency score; FM is the average of the frequency "
        "and monetary scores, rounded down.",
        "segments.mapping_cells": "Cells (R · FM)",
    }
)
MESSAGES["ja"].update(
    {
        "rfm_thresholds.title": "スコアの境界値",
        "rfm_thresholds.help": "各指標で顧客を1〜5で採点します。自動ではこのストアの顧客を"
        "5等分（五分位）し、顧客が少ないうちは標準の境界値を使います。"
        "保存するとすべての顧客を再採点します。",
        "rfm_thresholds.dimension.recency_days": "最新購入日：最後の注文からの日数",
        "rfm_thresholds.dimension.frequency_orders": "購入頻度：注文回数",
        "rfm_thresholds.dimension.monetary": "購入金額：累計購入額（ストアの通貨）",
        "rfm_thresholds.source.custom": "使用中：カスタム",
        "rfm_thresholds.source.quintiles": "使用中：五分位",
        "rfm_thresholds.source.standard": "使用中：標準の境界値",
        "rfm_thresholds.mode.auto": "自動",
        "rfm_thresholds.mode.custom": "カスタム",
        "rfm_thresholds.edge.recency_days.1": "R5：何日以内に注文",
        "rfm_thresholds.edge.recency_days.2": "R4：何日以内",
        "rfm_thresholds.edge.recency_days.3": "R3：何日以内",
        "rfm_thresholds.edge.recency_days.4": "R2：何日以内（それより前はR1）",
        "rfm_thresholds.edge.frequency_orders.1": "F2：何回から",
        "rfm_thresholds.edge.frequency_orders.2": "F3：何回から",
        "rfm_thresholds.edge.frequency_orders.3": "F4：何回から",
        "rfm_thresholds.edge.frequency_orders.4": "F5：何回から",
        "rfm_thresholds.edge.monetary.1": "M2：いくらから",
        "rfm_thresholds.edge.monetary.2": "M3：いくらから",
        "rfm_thresholds.edge.monetary.3": "M4：いくらから",
        "rfm_thresholds.edge.monetary.4": "M5：いくらから",
        "rfm_thresholds.save": "境界値を保存",
        "rfm_thresholds.automatic": "すべて自動に戻す",
        "rfm_thresholds.saved": "保存しました。この境界値で顧客を再採点しました。",
        "rfm_thresholds.saved_queued": "保存しました。この境界値で顧客を再採点しています。"
        "数分以内にこのページに反映されます。",
        "rfm_thresholds.has_errors": "正しくない境界値があるため、保存されていません。",
        "rfm_thresholds.error.required": "値を入力してください。",
        "rfm_thresholds.error.integer": "整数を入力してください。",
        "rfm_thresholds.error.number": "数値を入力してください。",
        "rfm_thresholds.error.places": "小数点以下は{places}桁までにしてください。",
        "rfm_thresholds.error.range": "{low} から {high} までの値を入力してください。",
        "rfm_thresholds.error.ascending": "前の境界値より大きくしてください。",
        "rfm_thresholds.error.mode": "自動かカスタムを選んでください。",
        "segments.mapping_title": "グループを構成するセル",
        "segments.mapping_help": "Rは最新購入日のスコア、FMは購入頻度と購入金額のスコアの平均"
        "（切り捨て）です。",
        "segments.mapping_cells": "セル（R・FM）",
    }
)

# attribution settings
MESSAGES["en"].update(
    {
        "attribution.title": "Attribution",
        "attribution.model": "Credit an order to",
        "attribution.model.click": "the last email clicked",
        "attribution.model.click_or_open": "the last email clicked or opened",
        "attribution.model.send": "the last email sent",
        "attribution.window": "within days before the order",
        "attribution.save": "Save",
        "attribution.saved": "Attribution saved. The numbers below use it, for past orders too.",
        "attribution.invalid": "Choose a model and a window of 1 to 30 days.",
        "attribution.help": "Opens are off by default: Apple Mail opens every email it downloads, "
        "so opens overstate what email earned. The holdout comparison counts orders within the "
        "same window.",
        "attribution.error.model": "Choose a model.",
        "attribution.error.window": "Choose 1 to 30 days.",
    }
)
MESSAGES["ja"].update(
    {
        "attribution.title": "貢献の計測",
        "attribution.model": "注文の貢献先",
        "attribution.model.click": "最後にクリックされたメール",
        "attribution.model.click_or_open": "最後にクリックまたは開封されたメール",
        "attribution.model.send": "最後に送信したメール",
        "attribution.window": "注文前の日数",
        "attribution.save": "保存",
        "attribution.saved": "保存しました。下の数値は過去の注文も"
        "含めてこの設定で再計算されています。",
        "attribution.invalid": "モデルと 1〜30 日の期間を選んでください。",
        "attribution.help": "開封は既定で数えません。Apple メールはダ"
        "ウンロードしたメールをすべて開封扱いにするため、"
        "開封はメールの成果を過大に見せます。ホールドアウト比較も同じ期間で注文を数えます。",
        "attribution.error.model": "モデルを選んでください。",
        "attribution.error.window": "1〜30 日を選んでください。",
    }
)

# Segment builder (saved segments, rule validation) and flow audiences.
MESSAGES["en"].update(
    {
        "segments.builder.link": "Saved segments",
        "segments.builder.list_title": "Saved segments",
        "segments.builder.list_help": "Build a segment from rules; save it to use it as a flow "
        "audience or export its customers.",
        "segments.builder.empty": "No saved segments yet.",
        "segments.builder.new": "New segment",
        "segments.builder.new_title": "New segment",
        "segments.builder.edit_title": "Segment: {name}",
        "segments.builder.name": "Name",
        "segments.builder.customers": "Customers",
        "segments.builder.updated": "Updated",
        "segments.builder.actions": "Actions",
        "segments.builder.match": "Customers who match",
        "segments.builder.match_all": "all of these rules",
        "segments.builder.match_any": "any of these rules",
        "segments.builder.group": "Group",
        "segments.builder.field": "Field",
        "segments.builder.op": "Condition",
        "segments.builder.value": "Value",
        "segments.builder.add_condition": "Add condition",
        "segments.builder.add_group": "Add group",
        "segments.builder.remove": "Remove",
        "segments.builder.refresh": "Update count",
        "segments.builder.save": "Save segment",
        "segments.builder.saved": "Segment saved.",
        "segments.builder.deleted": "Segment deleted.",
        "segments.builder.delete": "Delete",
        "segments.builder.delete_confirm": "Delete this segment?",
        "segments.builder.export": "Export CSV",
        "segments.builder.edit": "Edit",
        "segments.builder.back": "Back to saved segments",
        "segments.builder.count": "{count} customers match",
        "segments.builder.count_invalid": "Fix the highlighted rules to see the count.",
        "segments.builder.count_failed": "The count could not be updated.",
        "segments.builder.has_errors": "Some rules are not valid. Nothing was saved.",
        "segments.builder.no_rules": "No rules: every customer matches.",
        "segments.builder.used_by": "Audience of: {flows}. Deleting it stops these flows from "
        "reaching anyone until another audience is chosen.",
        "segments.builder.limits": "Up to {groups} levels of groups and {conditions} conditions.",
        "segments.field.total_spent": "Total spent",
        "segments.field.orders_count": "Number of orders",
        "segments.field.first_order_at": "First order date",
        "segments.field.last_order_at": "Last order date",
        "segments.field.product_bought": "Product bought",
        "segments.field.collection_bought": "Bought from collection",
        "segments.field.tag": "Tag",
        "segments.field.country": "Country",
        "segments.field.consent": "Email consent",
        "segments.field.rfm_group": "RFM group",
        "segments.field.expected_orders_365": "Predicted orders (365 days)",
        "segments.field.probability_alive": "Probability still active",
        "segments.field.predicted_clv": "Predicted value (365 days)",
        "segments.field.expected_next_order_at": "Expected next order",
        "segments.op.gt": "is more than",
        "segments.op.gte": "is at least",
        "segments.op.lt": "is less than",
        "segments.op.lte": "is at most",
        "segments.op.eq": "is exactly",
        "segments.op.before": "is before (date)",
        "segments.op.after": "is after (date)",
        "segments.op.within_days": "is within the last/next N days",
        "segments.op.over_days_ago": "is more than N days ago",
        "segments.op.is": "is",
        "segments.op.is_not": "is not",
        "segments.op.has": "has",
        "segments.op.has_not": "does not have",
        "segments.consent.subscribed": "Subscribed",
        "segments.consent.not_subscribed": "Not subscribed",
        "segments.consent.unsubscribed": "Unsubscribed",
        "segments.hint.money": "Amount in {currency}, e.g. 5000",
        "segments.hint.count": "A whole number",
        "segments.hint.date": "YYYY-MM-DD, or a number of days",
        "segments.hint.id": "Product",
        "segments.hint.text": "Text",
        "segments.hint.country": "Two-letter code, e.g. JP",
        "segments.hint.choice": "Pick a value",
        "segments.hint.score": "A number, e.g. 0.5",
        "segments.rule.not_object": "This rule is not valid.",
        "segments.rule.not_list": "The rules of a group must be a list.",
        "segments.rule.match": "Choose “all” or “any”.",
        "segments.rule.empty_group": "A group needs at least one rule.",
        "segments.rule.depth": "Groups can be nested at most {max} levels deep.",
        "segments.rule.too_many": "At most {max} conditions ({count} given).",
        "segments.rule.unknown_field": "Choose a field.",
        "segments.rule.unknown_op": "Choose a condition for this field.",
        "segments.rule.required": "Enter a value.",
        "segments.rule.scalar": "Enter a single value.",
        "segments.rule.date": "Enter a date as YYYY-MM-DD.",
        "segments.rule.number": "Enter a number.",
        "segments.rule.integer": "Enter a whole number.",
        "segments.rule.range": "Enter a value from {low} to {high}.",
        "segments.rule.country": "Enter a two-letter country code (e.g. JP).",
        "segments.rule.choice": "Choose one of the listed values.",
        "segments.rule.too_long": "At most {max} characters.",
        "segments.saved.name_taken": "Another segment already has this name.",
        "segments.saved.not_found": "This segment no longer exists.",
        "segments.saved.too_many": "A store can keep at most {max} segments.",
        "flows.field.audience": "Audience",
        "flows.audience.everyone": "Everyone",
        "flows.audience.missing": "The audience segment of this flow was deleted: the flow "
        "reaches nobody until you choose another audience.",
        "flows.audience.deleted_option": "(deleted segment: nobody)",
        "flows.audience_help": "Only customers in this saved segment enter the flow.",
        "flows.error.audience": "Choose one of this store's saved segments.",
    }
)
MESSAGES["ja"].update(
    {
        "segments.builder.link": "保存済みセグメント",
        "segments.builder.list_title": "保存済みセグメント",
        "segments.builder.list_help": "条件を組み合わせてセグメントを作成します。保存すると"
        "フローの対象に設定したり、顧客を CSV で書き出したりできます。",
        "segments.builder.empty": "保存済みのセグメントはまだありません。",
        "segments.builder.new": "新しいセグメント",
        "segments.builder.new_title": "新しいセグメント",
        "segments.builder.edit_title": "セグメント：{name}",
        "segments.builder.name": "名前",
        "segments.builder.customers": "顧客数",
        "segments.builder.updated": "更新日時",
        "segments.builder.actions": "操作",
        "segments.builder.match": "次の条件に",
        "segments.builder.match_all": "すべて一致する顧客",
        "segments.builder.match_any": "いずれかに一致する顧客",
        "segments.builder.group": "グループ",
        "segments.builder.field": "項目",
        "segments.builder.op": "条件",
        "segments.builder.value": "値",
        "segments.builder.add_condition": "条件を追加",
        "segments.builder.add_group": "グループを追加",
        "segments.builder.remove": "削除",
        "segments.builder.refresh": "件数を更新",
        "segments.builder.save": "セグメントを保存",
        "segments.builder.saved": "セグメントを保存しました。",
        "segments.builder.deleted": "セグメントを削除しました。",
        "segments.builder.delete": "削除",
        "segments.builder.delete_confirm": "このセグメントを削除しますか？",
        "segments.builder.export": "CSV を書き出す",
        "segments.builder.edit": "編集",
        "segments.builder.back": "保存済みセグメントに戻る",
        "segments.builder.count": "該当する顧客：{count}人",
        "segments.builder.count_invalid": "件数を表示するには、赤く示さ"
        "れた条件を修正してください。",
        "segments.builder.count_failed": "件数を更新できませんでした。",
        "segments.builder.has_errors": "条件に誤りがあります。保存されていません。",
        "segments.builder.no_rules": "条件がありません：すべての顧客が該当します。",
        "segments.builder.used_by": "フローの対象：{flows}。削除すると、別の対象を選ぶまで"
        "これらのフローは誰にも届きません。",
        "segments.builder.limits": "グループは {groups} 階層まで、条件は {conditions} 個まで。",
        "segments.field.total_spent": "累計購入金額",
        "segments.field.orders_count": "注文回数",
        "segments.field.first_order_at": "初回注文日",
        "segments.field.last_order_at": "最終注文日",
        "segments.field.product_bought": "購入した商品",
        "segments.field.collection_bought": "購入したコレクション",
        "segments.field.tag": "タグ",
        "segments.field.country": "国",
        "segments.field.consent": "メール配信の同意",
        "segments.field.rfm_group": "RFMグループ",
        "segments.field.expected_orders_365": "予測注文回数（365日）",
        "segments.field.probability_alive": "継続利用の確率",
        "segments.field.predicted_clv": "予測購入額（365日）",
        "segments.field.expected_next_order_at": "次回注文の予測日",
        "segments.op.gt": "より大きい",
        "segments.op.gte": "以上",
        "segments.op.lt": "より小さい",
        "segments.op.lte": "以下",
        "segments.op.eq": "と等しい",
        "segments.op.before": "より前（日付）",
        "segments.op.after": "より後（日付）",
        "segments.op.within_days": "N 日以内",
        "segments.op.over_days_ago": "N 日より前",
        "segments.op.is": "である",
        "segments.op.is_not": "ではない",
        "segments.op.has": "がある",
        "segments.op.has_not": "がない",
        "segments.consent.subscribed": "購読中",
        "segments.consent.not_subscribed": "未購読",
        "segments.consent.unsubscribed": "配信停止",
        "segments.hint.money": "{currency} の金額（例：5000）",
        "segments.hint.count": "整数",
        "segments.hint.date": "YYYY-MM-DD、または日数",
        "segments.hint.id": "商品",
        "segments.hint.text": "テキスト",
        "segments.hint.country": "2 文字の国コード（例：JP）",
        "segments.hint.choice": "値を選択",
        "segments.hint.score": "数値（例：0.5）",
        "segments.rule.not_object": "この条件は正しくありません。",
        "segments.rule.not_list": "グループの条件はリストで指定してください。",
        "segments.rule.match": "「すべて」か「いずれか」を選んでください。",
        "segments.rule.empty_group": "グループには条件が 1 つ以上必要です。",
        "segments.rule.depth": "グループは {max} 階層までです。",
        "segments.rule.too_many": "条件は {max} 個までです（{count} 個指定されています）。",
        "segments.rule.unknown_field": "項目を選んでください。",
        "segments.rule.unknown_op": "この項目の条件を選んでください。",
        "segments.rule.required": "値を入力してください。",
        "segments.rule.scalar": "値を 1 つ入力してください。",
        "segments.rule.date": "日付を YYYY-MM-DD の形式で入力してください。",
        "segments.rule.number": "数値を入力してください。",
        "segments.rule.integer": "整数を入力してください。",
        "segments.rule.range": "{low} から {high} までの値を入力してください。",
        "segments.rule.country": "2 文字の国コードを入力してください（例：JP）。",
        "segments.rule.choice": "表示された値から選んでください。",
        "segments.rule.too_long": "{max} 文字以内で入力してください。",
        "segments.saved.name_taken": "同じ名前のセグメントがすでにあります。",
        "segments.saved.not_found": "このセグメントはもう存在しません。",
        "segments.saved.too_many": "セグメントは 1 ストアあたり {max} 個までです。",
        "flows.field.audience": "対象",
        "flows.audience.everyone": "全員",
        "flows.audience.missing": "このフローの対象セグメントは削除されました。別の対象を"
        "選ぶまで、このフローは誰にも届きません。",
        "flows.audience.deleted_option": "（削除されたセグメント：対象なし）",
        "flows.audience_help": "この保存済みセグメントの顧客だけがフローに入ります。",
        "flows.error.audience": "このストアの保存済みセグメントを選んでください。",
    }
)

# Settings, preview and performance of the win-back and post-purchase flows.
MESSAGES["en"].update(
    {
        "flows.name.winback": "Win-back",
        "flows.name.thank_you": "Thank-you",
        "flows.name.review_request": "Review request",
        "flows.name.replenishment": "Replenishment reminder",
        "flows.summary.winback": "Emails {d1} h and {d2} h after a customer is found lapsing "
        "(no order for the longer of {lapse_min_days} days and {lapse_multiplier} × their usual "
        "gap; {one_time_days} days after a single order); holdout {holdout} %.",
        "flows.unit.times": "× the usual gap",
        "flows.summary.thank_you": "One email {d1} h after payment, with cross-sells; "
        "holdout {holdout} %.",
        "flows.summary.review_request": "One email {review_delay_days} days after fulfilment; "
        "holdout {holdout} %.",
        "flows.summary.replenishment": "One email {lead_days} days before the expected re-order "
        "of a product the customer buys repeatedly; holdout {holdout} %.",
        "flows.stat.runs.generic": "Customers entered",
        "flows.lift.runs.generic": "Customers",
        "flows.lift.not_enough.generic": "Not enough data yet: the comparison needs at least "
        "{runs} customers in each group and {conversions} orders in all.",
        "flows.lift.help.generic": "Both groups count orders within {days} days after the "
        "customer entered the flow, whether or not an email went out (intention to treat). The "
        "interval is the normal approximation for a difference of proportions.",
        "flows.holdout_help.generic": "This share of customers gets no email, to measure what "
        "the flow adds.",
        "flows.delays_help.winback": "Hours after the daily scan finds the customer lapsing "
        "(0 = at once); email 2 later than email 1.",
        "flows.delays_help.thank_you": "Hours after the order was paid (0 = at once).",
        "flows.field.delay.thank_you": "Send after",
        "flows.section.lapse": "When a customer is lapsing",
        "flows.lapse_help": "A repeat buyer is lapsing when the days since their last order "
        "exceed the larger of the minimum and the multiple of their usual (median) gap between "
        "orders; a one-time buyer after the days given below.",
        "flows.field.lapse_min_days": "At least",
        "flows.field.lapse_multiplier": "Multiple",
        "flows.field.one_time_days": "One-time buyers after",
        "flows.field.review_delay_days": "Send after fulfilment",
        "flows.field.lead_days": "Send before the expected re-order",
        "flows.help.review_delay_days": "Days after the order was fulfilled (1 to 90).",
        "flows.help.lead_days": "Days before the date the customer is expected to buy the "
        "product again, from their own rhythm or the store's (0 = on that day).",
        "flows.subjects_help.replenishment": "Leave empty to use the built-in subject. "
        "{product} is replaced by the product's name.",
        "flows.field.subject_single": "Subject ({lang_name})",
        "flows.preview.email": "Email",
        "flows.preview.none.winback": "No customer has an order yet: enter a customer ID.",
        "flows.preview.none.thank_you": "No customer has a paid order yet: enter a customer ID.",
        "flows.preview.none.review_request": "No customer has a fulfilled order yet: enter a "
        "customer ID.",
        "flows.preview.none.replenishment": "No customer has bought a product twice yet: enter "
        "a customer ID.",
        "flows.preview.no_order": "This customer has no order in this store.",
        "flows.preview.no_paid_order": "This customer has no paid order in this store.",
        "flows.preview.no_fulfilled_order": "This customer has no fulfilled order in this store.",
        "flows.preview.no_repeat_product": "This customer has not bought any product twice in "
        "this store.",
        "flows.preview.for_order": "For {name} (customer {id}), order {order}.",
        "flows.preview.for_product": "For {name} (customer {id}), product {product}.",
        "flows.preview.help.generic": "Rendered as the sender does, in the customer's language; "
        "links are inactive here.",
    }
)
MESSAGES["ja"].update(
    {
        "flows.name.winback": "休眠顧客の呼び戻し",
        "flows.name.thank_you": "購入のお礼",
        "flows.name.review_request": "レビュー依頼",
        "flows.name.replenishment": "買い替えのお知らせ",
        "flows.summary.winback": "休眠と判定されてから {d1} 時間後と {d2} 時間後にメール送信"
        "（最後の注文から {lapse_min_days} 日と普段の間隔の {lapse_multiplier} 倍の長い方、"
        "1 回だけの購入者は {one_time_days} 日）、ホールドアウト {holdout}%。",
        "flows.summary.thank_you": "支払いから {d1} 時間後におすすめ商品付きのメールを 1 通、"
        "ホールドアウト {holdout}%。",
        "flows.summary.review_request": "発送から {review_delay_days} 日後にメールを 1 通、"
        "ホールドアウト {holdout}%。",
        "flows.summary.replenishment": "繰り返し購入される商品の次回購入予定日の "
        "{lead_days} 日前にメールを 1 通、ホールドアウト {holdout}%。",
        "flows.stat.runs.generic": "対象顧客",
        "flows.lift.runs.generic": "顧客数",
        "flows.lift.not_enough.generic": "データが不足しています：各グループ {runs} 人以上の"
        "顧客と、合計 {conversions} 件以上の注文が必要です。",
        "flows.lift.help.generic": "両グループとも、フロー開始から {days} 日以内の注文を数えます"
        "（メール送信の有無にかかわらず）。信頼区間は比率の差の正規近似です。",
        "flows.holdout_help.generic": "この割合の顧客にはメールを送らず、"
        "フローの効果を測定します。",
        "flows.delays_help.winback": "毎日の確認で休眠と判定されてからの時間（0 = すぐ）。"
        "2 通目は 1 通目より後にしてください。",
        "flows.delays_help.thank_you": "注文の支払いからの時間（0 = すぐ）。",
        "flows.field.delay.thank_you": "送信のタイミング",
        "flows.section.lapse": "休眠の判定",
        "flows.lapse_help": "リピーターは、最後の注文からの日数が「最低日数」と「普段の注文間隔"
        "（中央値）× 倍率」の大きい方を超えると休眠と判定されます。1 回だけの購入者は下の日数で"
        "判定されます。",
        "flows.field.lapse_min_days": "最低日数",
        "flows.unit.times": "倍",
        "flows.field.lapse_multiplier": "普段の間隔の倍率",
        "flows.field.one_time_days": "1 回だけの購入者",
        "flows.field.review_delay_days": "発送からの日数",
        "flows.field.lead_days": "次回購入予定日の何日前",
        "flows.help.review_delay_days": "注文の発送から何日後に送るか（1〜90 日）。",
        "flows.help.lead_days": "顧客自身またはストア全体の購入周期から見込んだ次回購入日の"
        "何日前に送るか（0 = 当日）。",
        "flows.subjects_help.replenishment": "空欄の場合は標準の件名を使います。"
        "{product} は商品名に置き換わります。",
        "flows.field.subject_single": "件名（{lang_name}）",
        "flows.preview.email": "メール",
        "flows.preview.none.winback": "注文のある顧客がまだいません。顧客 ID を入力してください。",
        "flows.preview.none.thank_you": "支払い済みの注文がある顧客がまだいません。"
        "顧客 ID を入力してください。",
        "flows.preview.none.review_request": "発送済みの注文がある顧客がまだいません。"
        "顧客 ID を入力してください。",
        "flows.preview.none.replenishment": "同じ商品を 2 回以上購入した顧客がまだいません。"
        "顧客 ID を入力してください。",
        "flows.preview.no_order": "この顧客にはこのストアの注文がありません。",
        "flows.preview.no_paid_order": "この顧客にはこのストアの支払い済みの注文がありません。",
        "flows.preview.no_fulfilled_order": "この顧客にはこのストアの発送済みの注文がありません。",
        "flows.preview.no_repeat_product": "この顧客はこのストアで同じ商品を 2 回以上購入して"
        "いません。",
        "flows.preview.for_order": "{name} さん（顧客 {id}）、注文 {order}。",
        "flows.preview.for_product": "{name} さん（顧客 {id}）、商品 {product}。",
        "flows.preview.help.generic": "送信時と同じ方法で、顧客の言語で表示しています。"
        "ここではリンクは無効です。",
    }
)

# flow runs: audience exit
MESSAGES["en"].update({"run.exit.not_in_audience": "left the flow's audience"})
MESSAGES["ja"].update({"run.exit.not_in_audience": "対象セグメント外"})

# segment rules that can't be evaluated (bounds, and rules saved before the bounds existed)
MESSAGES["en"].update(
    {
        "segments.rule.characters": "Remove control characters from this value.",
        "segments.rule.places": "Use at most {max} decimal places.",
        "segments.rule.cannot_run": "The rule can't be run on this store's data.",
        "segments.unavailable": "This segment can't be evaluated: {reason}",
        "flows.audience.unavailable_error": "The {flow} flow's audience segment “{segment}” "
        "can't be evaluated: {reason} Nobody enters the flow until the segment is fixed.",
        "run.exit.audience_unavailable": "audience segment can't be evaluated",
        "flows.audience.unavailable": "The audience segment “{segment}” can't be evaluated: "
        "{reason} Nobody enters this flow until you fix the segment or choose another.",
    }
)
MESSAGES["ja"].update(
    {
        "segments.rule.characters": "制御文字を含めないでください。",
        "segments.rule.places": "小数点以下は {max} 桁までです。",
        "segments.rule.cannot_run": "このストアのデータに対して条件を実行できません。",
        "segments.unavailable": "このセグメントは評価できません：{reason}",
        "flows.audience.unavailable_error": "{flow} フローの対象セグメント「{segment}」は評価"
        "できません：{reason} セグメントを直すまで誰もフローに入りません。",
        "run.exit.audience_unavailable": "対象セグメントを評価できない",
        "flows.audience.unavailable": "対象セグメント「{segment}」は評価できません：{reason}"
        "セグメントを直すか別のセグメントを選ぶまで、誰もこのフローに入りません。",
    }
)
