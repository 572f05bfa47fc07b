// reconperf HTML report: with #selftest in the URL, checks that every chart drew its
// marks, asks each embedded flame graph to run its own zoom-and-search self-test
// (postMessage; the graphs are data: URL iframes, so a message is the only way in), and
// writes the results as JSON into #report-selftest.
"use strict";
(function () {
	var errors = [];
	window.addEventListener("error", function (e) {
		errors.push(String(e.message || e));
	});

	function selftest() {
		var out = { errors: errors, charts: {}, flames: {} };
		var charts = document.querySelectorAll("svg.chart");
		for (var i = 0; i < charts.length; i++) {
			var c = charts[i];
			var marks = c.querySelectorAll(".bar, .series, .series2, .pct");
			var box = c.getBoundingClientRect();
			out.charts[c.id] = { marks: marks.length, width: Math.round(box.width) };
		}
		var frames = document.querySelectorAll("iframe.flame");
		var pending = frames.length;
		var res = document.getElementById("report-selftest");
		function done() {
			res.textContent = JSON.stringify(out);
			res.setAttribute("data-done", "1");
		}
		if (!pending) {
			done();
			return;
		}
		window.addEventListener("message", function (e) {
			for (var k = 0; k < frames.length; k++) {
				if (e.source === frames[k].contentWindow && !(frames[k].id in out.flames)) {
					out.flames[frames[k].id] = e.data;
					if (--pending === 0)
						done();
				}
			}
		});
		for (var k = 0; k < frames.length; k++)
			frames[k].contentWindow.postMessage("fg-selftest", "*");
	}

	if (location.hash.indexOf("selftest") >= 0) {
		if (document.readyState === "complete")
			selftest();
		else
			window.addEventListener("load", selftest);
	}
})();
