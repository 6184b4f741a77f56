"""Reports: render a measured :class:`~redcat.report.data.ReportData`; never compute metrics.

- ``data``: the ReportData record and its column contract;
- ``labels``: zh-CN / English names of every metric, stage, model and page text;
- ``fmt``: number, money, rate and date formatting;
- ``tables``: terminal tables (:func:`~redcat.report.tables.print_report`) and CSV export;
- ``charts``: ECharts options built in Python;
- ``html``: the HTML page per language (:func:`~redcat.report.html.render_html_bundle`), with
  ECharts vendored under ``static/`` and copied beside each page.
"""
