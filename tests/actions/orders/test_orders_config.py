"""Shop settings of the order layer and choosing the provider."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from actions.config import load_settings
from actions.orders import make_provider
from actions.orders.shopify import ShopifyOrderProvider
from actions.orders.sql import SqlOrderProvider

ROOT = Path(__file__).resolve().parents[3]


def test_shop_defaults():
    s = load_settings({})
    assert (s.currency, s.timezone, s.return_window_days) == ("₹", "Asia/Kolkata", 10)
    assert (s.order_provider, s.shopify_api_version, s.shopify_token) == ("sql", "2024-10", "")


def test_shop_settings_from_environment():
    s = load_settings({"SAATHI_CURRENCY": "৳", "SAATHI_TIMEZONE": "Asia/Dhaka", "SAATHI_RETURN_WINDOW_DAYS": "7",
                       "SAATHI_ORDER_PROVIDER": " Shopify ", "SAATHI_SHOPIFY_SHOP_URL": "https://x.myshopify.com/",
                       "SAATHI_SHOPIFY_TOKEN": "shpat_abc", "SAATHI_SHOPIFY_API_VERSION": "2025-01"})
    assert (s.currency, s.timezone, s.return_window_days, s.order_provider) == ("৳", "Asia/Dhaka", 7, "shopify")
    assert (s.shopify_shop_url, s.shopify_token, s.shopify_api_version) == ("https://x.myshopify.com", "shpat_abc", "2025-01")


def test_unknown_provider_is_refused():
    with pytest.raises(ValueError, match="SAATHI_ORDER_PROVIDER"):
        load_settings({"SAATHI_ORDER_PROVIDER": "magento"})


def test_shopify_token_is_masked_when_printed(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SAATHI_ENV_FILE": str(tmp_path / "none"),
           "SAATHI_SHOPIFY_TOKEN": "shpat_secret123"}
    shown = subprocess.run([sys.executable, "-m", "actions.config"], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert "shpat_secret123" not in shown and "SAATHI_SHOPIFY_TOKEN=***" in shown


def test_make_provider_follows_the_settings(tmp_path):
    sql = make_provider(load_settings({"SAATHI_ORDERS_DB": f"sqlite:///{tmp_path / 'o.db'}"}))
    assert isinstance(sql, SqlOrderProvider) and sql.get("KM-1") is None
    shop = make_provider(load_settings({"SAATHI_ORDER_PROVIDER": "shopify", "SAATHI_SHOPIFY_SHOP_URL": "x.myshopify.com",
                                        "SAATHI_SHOPIFY_TOKEN": "t", "SAATHI_HTTP_TIMEOUT": "3"}))
    assert isinstance(shop, ShopifyOrderProvider)
    assert shop.base == "https://x.myshopify.com/admin/api/2024-10" and shop.timeout == 3.0
    with pytest.raises(ValueError, match="SAATHI_SHOPIFY_TOKEN"):
        make_provider(load_settings({"SAATHI_ORDER_PROVIDER": "shopify"}))
