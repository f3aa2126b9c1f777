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
        # login
        "login.title": "Sign in",
        "login.expired": "This login link has expired or is not valid.",
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
        "login.title": "ログイン",
        "login.expired": "このログインリンクは期限切れか、無効です。",
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
        "login.rate_limited": "Too many failed sign-in attempts. Wait 15 minutes, then try again.",
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
        "login.rate_limited": "ログインの失敗が多すぎます。"
        "15分待ってから、もう一度お試しください。",
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
