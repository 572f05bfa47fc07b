// reconperf flame graph: zoom on click, reset, regex search with the matched share,
// details on hover. Embedded into every SVG that `reconperf flame` writes (see svg.h).
// URL fragment: #q=REGEX searches, #z=NAME zooms, #selftest runs a zoom click and a search
// and writes JSON results into #fg-selftest. A parent page may ask for the same self-test
// with postMessage("fg-selftest") and gets the JSON back as a message.
"use strict";
(function () {
	var errors = [];
	window.addEventListener("error", function (e) {
		errors.push(String(e.message || e));
	});
	var consoleError = console.error;
	console.error = function () {
		errors.push(Array.prototype.join.call(arguments, " "));
		return consoleError.apply(console, arguments);
	};

	var svg, frames = [], byNode = new Map(), total = 1, pad = 10, fullw = 0;
	var zoomed = null, searching = null;
	var CHAR_W = 7.2, MATCH_FILL = "rgb(230,0,230)";

	function el(id) {
		return document.getElementById(id);
	}

	function fit(name, w) {
		var chars = Math.floor((w - 6) / CHAR_W), cps = Array.from(name);
		if (chars < 3)
			return "";
		if (cps.length <= chars)
			return name;
		return cps.slice(0, chars - 2).join("") + "..";
	}

	function place(f, x, w) {
		f.rect.setAttribute("x", x.toFixed(2));
		f.rect.setAttribute("width", w.toFixed(2));
		f.text.setAttribute("x", (x + 3).toFixed(2));
		f.text.textContent = fit(f.name, w);
	}

	function init() {
		svg = document.documentElement;
		total = Number(svg.getAttribute("data-total")) || 1;
		pad = Number(svg.getAttribute("data-pad")) || 0;
		fullw = Number(svg.getAttribute("width")) - 2 * pad;
		var gs = document.querySelectorAll("g.f");
		for (var i = 0; i < gs.length; i++) {
			var g = gs[i], rect = g.querySelector("rect");
			var title = g.querySelector("title").textContent.split("\n");
			var f = {
				g: g, rect: rect, text: g.querySelector("text"),
				name: title[0], info: title.slice(1).join(" "),
				x0: Number(g.getAttribute("data-x")),
				n: Number(g.getAttribute("data-n")),
				d: Number(g.getAttribute("data-d")),
				x: Number(rect.getAttribute("x")),
				w: Number(rect.getAttribute("width")),
				fill: rect.getAttribute("fill")
			};
			frames.push(f);
			byNode.set(g, f);
		}
		var box = el("fg-frames");
		box.addEventListener("click", function (e) {
			var f = frameOf(e.target);
			if (f)
				zoom(f);
		});
		box.addEventListener("mouseover", function (e) {
			var f = frameOf(e.target);
			if (f)
				el("fg-details").textContent = f.name + " \u2014 " + f.info;
		});
		box.addEventListener("mouseout", function () {
			el("fg-details").textContent = " ";
		});
		el("fg-reset").addEventListener("click", resetZoom);
		el("fg-search").addEventListener("click", function () {
			if (searching !== null)
				clearSearch();
			else
				askSearch();
		});
		window.addEventListener("keydown", function (e) {
			if ((e.ctrlKey || e.metaKey) && e.key === "f") {
				e.preventDefault();
				askSearch();
			} else if (e.key === "Escape") {
				resetZoom();
				clearSearch();
			}
		});
		window.addEventListener("message", function (e) {
			if (e.data === "fg-selftest" && e.source)
				e.source.postMessage(selftest({}), "*");
		});
		fromHash();
	}

	function frameOf(node) {
		while (node && node !== svg) {
			if (byNode.has(node))
				return byNode.get(node);
			node = node.parentNode;
		}
		return null;
	}

	function zoom(z) {
		var scale = fullw / z.n;
		for (var i = 0; i < frames.length; i++) {
			var f = frames[i];
			var inside = f.x0 >= z.x0 && f.x0 + f.n <= z.x0 + z.n;
			var above = f.x0 <= z.x0 && f.x0 + f.n >= z.x0 + z.n;
			if (f.d < z.d && above) {
				f.g.classList.remove("hide");
				f.g.classList.add("anc");
				place(f, pad, fullw);
			} else if (f.d >= z.d && inside) {
				f.g.classList.remove("hide", "anc");
				place(f, pad + (f.x0 - z.x0) * scale, f.n * scale);
			} else {
				f.g.classList.add("hide");
			}
		}
		zoomed = z;
		el("fg-reset").classList.toggle("hide", z.d === 0);
	}

	function resetZoom() {
		for (var i = 0; i < frames.length; i++) {
			var f = frames[i];
			f.g.classList.remove("hide", "anc");
			place(f, f.x, f.w);
		}
		zoomed = null;
		el("fg-reset").classList.add("hide");
	}

	// Marks frames whose name matches re and returns the share of all samples under a
	// matching frame; nested matches count once (the union of their sample ranges).
	function search(src) {
		var re;
		try {
			re = new RegExp(src);
		} catch (e) {
			el("fg-matched").textContent = "bad regular expression: " + src;
			return null;
		}
		var spans = [];
		for (var i = 0; i < frames.length; i++) {
			var f = frames[i], hit = re.test(f.name);
			f.rect.setAttribute("fill", hit ? MATCH_FILL : f.fill);
			f.g.classList.toggle("match", hit);
			if (hit)
				spans.push([f.x0, f.x0 + f.n]);
		}
		spans.sort(function (a, b) { return a[0] - b[0]; });
		var matched = 0, end = -1;
		for (var j = 0; j < spans.length; j++) {
			var s = Math.max(spans[j][0], end);
			if (spans[j][1] > s)
				matched += spans[j][1] - s;
			end = Math.max(end, spans[j][1]);
		}
		var pct = 100 * matched / total;
		searching = src;
		el("fg-search").textContent = "Reset search";
		el("fg-matched").textContent = "Matched: " + pct.toFixed(2) + "% (" + matched +
			" of " + total + ")";
		return { regex: src, frames: spans.length, matched: matched, total: total,
			 share: pct };
	}

	function clearSearch() {
		for (var i = 0; i < frames.length; i++) {
			frames[i].rect.setAttribute("fill", frames[i].fill);
			frames[i].g.classList.remove("match");
		}
		searching = null;
		el("fg-search").textContent = "Search";
		el("fg-matched").textContent = " ";
	}

	function askSearch() {
		var src = window.prompt("Search frames (regular expression):", searching || "");
		if (src)
			search(src);
	}

	function params() {
		var out = {}, parts = decodeURIComponent(location.hash.slice(1)).split("&");
		for (var i = 0; i < parts.length; i++) {
			var eq = parts[i].indexOf("=");
			if (eq < 0)
				out[parts[i]] = true;
			else
				out[parts[i].slice(0, eq)] = parts[i].slice(eq + 1);
		}
		return out;
	}

	function findFrame(name) {
		for (var i = 0; i < frames.length; i++)
			if (frames[i].name === name)
				return frames[i];
		return null;
	}

	function fromHash() {
		var p = params();
		if (p.selftest) {
			selftest(p);
			return;
		}
		if (typeof p.z === "string" && findFrame(p.z))
			zoom(findFrame(p.z));
		if (typeof p.q === "string" && p.q)
			search(p.q);
	}

	function visible() {
		var n = 0;
		for (var i = 0; i < frames.length; i++)
			n += !frames[i].g.classList.contains("hide");
		return n;
	}

	// Clicks a frame (the one named p.z, else the widest below the root) the way a user
	// does, then searches p.q (default: that frame's name), and records what happened.
	function selftest(p) {
		var out = { errors: errors, frames: frames.length, total: total, fullWidth: fullw };
		var pick = null;
		if (typeof p.z === "string")
			pick = findFrame(p.z);
		else
			for (var i = 0; i < frames.length; i++)
				if (frames[i].d === 1 && (!pick || frames[i].n > pick.n))
					pick = frames[i];
		out.visibleBefore = visible();
		if (pick) {
			var ev = new MouseEvent("click", { bubbles: true, cancelable: true, view: window });
			pick.rect.dispatchEvent(ev);
			out.zoom = {
				name: pick.name, depth: pick.d, samples: pick.n,
				zoomed: zoomed === pick,
				x: Number(pick.rect.getAttribute("x")),
				width: Number(pick.rect.getAttribute("width")),
				visible: visible(),
				resetShown: !el("fg-reset").classList.contains("hide")
			};
		}
		var q = typeof p.q === "string" ? p.q : pick ? "^" + pick.name.replace(
			/[.*+?^${}()|[\]\\]/g, "\\$&") + "$" : ".";
		out.search = search(q);
		out.matchedText = el("fg-matched").textContent;
		var res = el("fg-selftest");
		res.textContent = JSON.stringify(out);
		res.setAttribute("data-done", "1");
		return out;
	}

	if (document.readyState === "complete")
		init();
	else
		window.addEventListener("load", init);
})();
