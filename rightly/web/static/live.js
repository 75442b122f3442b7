// Live progress without reloading. A page marks one element with data-live="<fragment URL>" and
// data-live-state="open" while its work is unfinished. Every few seconds this fetches the fragment
// (same cookie, same permission table as the page) and, for each element with an id directly
// inside the fragment's [data-live-state] root, replaces the content of the page's element with
// that id. It stops when the fragment says "done", when a fetch is refused or redirected (e.g. the
// session expired), and pauses while the tab is hidden or the user pressed Pause. Without
// JavaScript nothing happens: a reload shows the same.
(function () {
  "use strict";
  var box = document.querySelector("[data-live]");
  if (!box || box.getAttribute("data-live-state") !== "open" || !window.fetch || !window.DOMParser) return;
  var url = box.getAttribute("data-live");
  var seconds = Math.max(1, Number(box.getAttribute("data-live-every")) || 3);
  var timer = null;
  var paused = false;
  var stopped = false;
  var failures = 0;

  var text = document.createElement("span");
  text.setAttribute("role", "status");
  var button = document.createElement("button");
  button.type = "button";
  button.className = "link";
  box.appendChild(text);
  box.appendChild(document.createTextNode(" "));
  box.appendChild(button);
  box.hidden = false;

  function show() {
    text.textContent = paused ? "Live updates paused." : "Updating every " + seconds + " seconds.";
    button.textContent = paused ? "Resume updates" : "Pause updates";
  }

  function stop(message) {
    stopped = true;
    clearTimeout(timer);
    box.setAttribute("data-live-state", "done");
    text.textContent = message;
    button.hidden = true;
  }

  function schedule() {
    clearTimeout(timer);
    if (!stopped && !paused) timer = setTimeout(poll, seconds * 1000);
  }

  // Keep what the reader did: which <details> are open, and which control has focus.
  function carryOver(el, fresh) {
    el.querySelectorAll("details[id]").forEach(function (d) {
      var twin = fresh.querySelector("#" + CSS.escape(d.id));
      if (twin) twin.open = d.open;
    });
  }

  function swap(fresh) {
    var el = document.getElementById(fresh.id);
    if (!el) return;
    carryOver(el, fresh);
    if (el.innerHTML === fresh.innerHTML) return;
    var focused = el.contains(document.activeElement) ? document.activeElement.id : "";
    el.innerHTML = fresh.innerHTML;
    el.classList.remove("live-changed");
    void el.offsetWidth; // restart the highlight (none under prefers-reduced-motion: see the CSS)
    el.classList.add("live-changed");
    var again = focused && document.getElementById(focused);
    if (again) again.focus({ preventScroll: true });
  }

  function poll() {
    if (stopped || paused) return;
    if (document.hidden) return schedule();
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (res) {
        if (!res.ok || res.redirected) throw new Error("refused");
        return res.text();
      })
      .then(function (html) {
        failures = 0;
        var root = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live-state]");
        if (!root) return stop("Live updates stopped: reload the page.");
        Array.prototype.forEach.call(root.children, function (fresh) {
          if (fresh.id) swap(fresh);
        });
        if (root.getAttribute("data-live-state") !== "open") return stop("Finished: live updates stopped.");
        schedule();
      })
      .catch(function (err) {
        failures += 1;
        if (err && err.message === "refused") return stop("Live updates stopped: reload the page.");
        if (failures >= 5) return stop("Live updates stopped (no answer): reload the page.");
        schedule();
      });
  }

  button.addEventListener("click", function () {
    paused = !paused;
    show();
    if (!paused) poll();
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !paused && !stopped) poll();
  });
  show();
  schedule();
})();
