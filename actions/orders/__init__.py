"""Saathi's order data layer: where orders live and what the bot may change about them.

`make_provider(settings)` returns the configured OrderProvider (the shop's SQL database or
Shopify). Nothing happens at import time; the CLI is `python -m actions.orders`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from actions.config import Settings
    from actions.orders.provider import OrderProvider


def make_provider(settings: Optional["Settings"] = None) -> "OrderProvider":
    """The OrderProvider named by SAATHI_ORDER_PROVIDER ("sql" creates missing tables)."""
    from actions.config import load_settings

    s = settings or load_settings()
    if s.order_provider == "shopify":
        from actions.orders.shopify import ShopifyOrderProvider

        return ShopifyOrderProvider(
            s.shopify_shop_url, s.shopify_token, s.shopify_api_version,
            timeout=s.http_timeout, default_country=s.default_country,
        )
    from actions.orders.models import create_engine_for, init_db
    from actions.orders.sql import SqlOrderProvider

    engine = create_engine_for(s.orders_db)
    init_db(engine)
    return SqlOrderProvider(engine, return_window_days=s.return_window_days, default_country=s.default_country)
