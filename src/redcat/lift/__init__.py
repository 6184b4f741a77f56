"""Incremental lift (增量): test − control outcome per unit, with intervals, power and SRM checks.

``stats`` holds the estimators (pure functions of arrays or sufficient statistics); ``table``
builds the generic lift table over any file with an arm column; ``campaign`` measures the
holdout lift of a brand's boosted campaigns in the store (with exposure-adjusted lift,
bootstrap intervals and breakdowns by retailer, note type and creator).
"""
