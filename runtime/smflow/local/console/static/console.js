// smflow local console: follows a running job's log, and reloads pages whose resource is changing.
"use strict";
(function () {
  var log = document.getElementById("log");
  var body = document.body;
  var refresh = body.getAttribute("data-refresh");
  if (refresh) {
    // a transform job in progress: its progress by object is read again every few seconds
    window.setTimeout(function () { window.location.reload(); }, Number(refresh) * 1000);
  }
  if (!log || log.getAttribute("data-live") !== "1") { return; }
  var source = log.getAttribute("data-src");
  var cursor = log.getAttribute("data-cursor") || "{}";
  var initial = log.getAttribute("data-status");
  var atBottom = true;
  log.scrollTop = log.scrollHeight;
  log.addEventListener("scroll", function () {
    atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  });
  function append(events) {
    var empty = log.querySelector(".line.empty");
    if (empty && events.length) { empty.remove(); }
    events.forEach(function (event) {
      var line = document.createElement("div");
      line.className = "line";
      var stamp = document.createElement("span");
      stamp.className = "ts";
      stamp.textContent = event.time.substring(11, 19);
      line.appendChild(stamp);
      line.appendChild(document.createTextNode(" " + event.message));
      log.appendChild(line);
    });
    if (atBottom) { log.scrollTop = log.scrollHeight; }
  }
  function poll() {
    var request = new XMLHttpRequest();
    request.open("GET", source + "?cursor=" + encodeURIComponent(cursor));
    request.onload = function () {
      if (request.status !== 200) { window.setTimeout(poll, 5000); return; }
      var answer = JSON.parse(request.responseText);
      append(answer.events);
      cursor = JSON.stringify(answer.cursor);
      log.setAttribute("data-cursor", cursor);
      log.setAttribute("data-lines", String(log.querySelectorAll(".line:not(.empty)").length));
      if (answer.status !== initial) {
        // the status changed (e.g. Training -> Completed): show the page as it is now
        window.location.reload();
        return;
      }
      window.setTimeout(poll, 1000);
    };
    request.onerror = function () { window.setTimeout(poll, 5000); };
    request.send();
  }
  window.setTimeout(poll, 1000);
})();
