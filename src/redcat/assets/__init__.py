"""AIPS audience assets (人群资产): each matched user's stage of a brand per day — A aware,
I interest, P purchased, S shared — with stage sizes over time, flows between two dates (流转),
the I→P conversion rate and the assets each note added. See :mod:`redcat.assets.stages` for the
stage rules and :mod:`redcat.assets.measures` for the figures."""

from redcat.assets.measures import AudienceAssets, Conversion, audience_assets
from redcat.assets.stages import ALL_STAGES, STAGES

__all__ = ["ALL_STAGES", "STAGES", "AudienceAssets", "Conversion", "audience_assets"]
