"""Funnel: per brand, note, creator, campaign and day, from exposure to order (曝光 → 成交)."""

from redcat.funnel.metrics import BrandFunnel, brand_funnel

__all__ = ["BrandFunnel", "brand_funnel"]
