"""Opens a rendered report in Debian's headless Chromium: every chart draws, no title runs as HTML.

Skipped when /usr/bin/chromium is absent (it is not a dependency of the test suite).
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from redcat.report.html import render_html

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")

# Appended to the page: after the charts initialise, show every chart's first tooltip, then
# report how many canvases exist and whether the hostile title's handler ran.
_PROBE = """<script>
setTimeout(function () {
  (window.redcatCharts || []).forEach(function (c) {
    c.dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: 0});
  });
  setTimeout(function () {
    var pre = document.createElement('pre');
    pre.id = 'probe';
    pre.textContent = 'CHARTS=' + (window.redcatCharts || []).length +
      ' CANVASES=' + document.querySelectorAll('.chart canvas').length +
      ' IMGS=' + document.querySelectorAll('.chart img').length +
      ' PWNED=' + (window.__pwned ? 1 : 0) + ' END';
    document.body.appendChild(pre);
  }, 500);
}, 1000);
</script>
</body>"""


def test_charts_draw_and_titles_stay_text(make_report, parts, tmp_path):
    notes = parts["notes"]()
    notes.loc[0, "title"] = '<img src=x onerror="window.__pwned=1">'
    path = render_html(make_report(notes=notes), tmp_path / "report.html", "zh")
    path.write_text(path.read_text(encoding="utf-8").replace("</body>", _PROBE), encoding="utf-8")
    profile = tmp_path / "profile"
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=6000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    shutil.rmtree(profile, ignore_errors=True)
    match = re.search(r"CHARTS=(\d+) CANVASES=(\d+) IMGS=(\d+) PWNED=(\d) END", result.stdout)
    assert match, result.stderr[-2000:]
    charts, canvases, imgs, pwned = map(int, match.groups())
    assert charts == 5
    assert canvases >= charts
    assert imgs == 0 and pwned == 0
