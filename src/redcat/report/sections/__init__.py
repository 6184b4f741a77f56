"""Section builders, run in this order by :func:`redcat.report.assemble.build_report`.

Each measurement that adds a report section registers its builder here with one line; a builder
takes a :class:`~redcat.report.section.SectionInput` and returns a
:class:`~redcat.report.section.Section`, or ``None`` when it has nothing to show for the brand.
"""

from __future__ import annotations

from redcat.report.section import SectionBuilder
from redcat.report.sections.assets import build_assets_section
from redcat.report.sections.calibration import build_calibration_section
from redcat.report.sections.lift import build_lift_section
from redcat.report.sections.links import build_links_section
from redcat.report.sections.privacy import build_privacy_section
from redcat.report.sections.roi import build_roi_section

SECTION_BUILDERS: list[SectionBuilder] = [
    build_assets_section,
    build_links_section,
    build_lift_section,
    build_calibration_section,
    build_roi_section,
    build_privacy_section,
]
