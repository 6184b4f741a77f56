// Draw every chart of the page from its embedded ECharts option (JSON data block, no inline
// script), keep them sized to the window, and expose them for tests as window.redcatCharts.
(function () {
  "use strict";
  function draw() {
    var charts = {};
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var key = el.getAttribute("data-chart");
      var source = document.querySelector('script[data-chart-option="' + key + '"]');
      if (!source || typeof echarts === "undefined") { return; }
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(JSON.parse(source.textContent));
      charts[key] = chart;
    });
    window.redcatCharts = charts;
    window.addEventListener("resize", function () {
      Object.keys(charts).forEach(function (k) { charts[k].resize(); });
    });
    // A changed filter applies at once (the Apply button stays for keyboard users).
    var scope = document.getElementById("scope");
    if (scope) { scope.addEventListener("change", function () { scope.form.submit(); }); }
    var noteType = document.getElementById("note_type");
    if (noteType) { noteType.addEventListener("change", function () { noteType.form.submit(); }); }
    document.documentElement.setAttribute("data-charts-ready", "1");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
