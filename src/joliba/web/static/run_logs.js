// The run page's live log: poll the API for lines after the last one shown, append them,
// and refresh the run's summary when its state changes. Log text only ever goes through
// textContent. Loaded by run.html only (no inline scripts: the CSP forbids them).
(function () {
  "use strict";

  var POLL_MS = 1000;
  var MAX_WAIT_MS = 10000;
  var PAGE = 1000;
  // While running, the summary (progress, outputs) is refreshed every this many polls.
  var SUMMARY_EVERY = 5;

  function makeClock(zone) {
    var format;
    try {
      format = new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
      });
    } catch (ignored) {
      format = new Intl.DateTimeFormat("en-GB", {
        timeZone: "UTC", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
      });
    }
    return function (iso) {
      var date = new Date(iso);
      return isNaN(date.getTime()) ? "" : format.format(date);
    };
  }

  function span(className, text) {
    var element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function LiveLog(box) {
    this.box = box;
    this.logsUrl = box.dataset.logsUrl;
    this.summaryUrl = box.dataset.summaryUrl;
    this.after = parseInt(box.dataset.after || "0", 10) || 0;
    this.state = box.dataset.state || "";
    this.finished = box.dataset.finished === "true";
    this.clock = makeClock(box.dataset.timeZone || "UTC");
    this.empty = box.querySelector("[data-log-empty]");
    this.search = document.querySelector("[data-log-search]");
    this.status = document.querySelector("[data-log-status]");
    this.noMatch = document.querySelector("[data-log-nomatch]");
    this.stick = true;
    this.polls = 0;
    this.failures = 0;
  }

  LiveLog.prototype.start = function () {
    var self = this;
    this.box.addEventListener("scroll", function () {
      // Follow new lines only while the reader is at the bottom.
      self.stick = self.box.scrollTop + self.box.clientHeight >= self.box.scrollHeight - 24;
    });
    if (this.search) {
      this.search.addEventListener("input", function () { self.filterAll(); });
    }
    this.scrollDown();
    if (!this.finished) {
      this.schedule(POLL_MS);
    }
  };

  LiveLog.prototype.query = function () {
    return this.search ? this.search.value.trim().toLowerCase() : "";
  };

  LiveLog.prototype.filterOne = function (line, query) {
    line.hidden = query !== "" && line.textContent.toLowerCase().indexOf(query) === -1;
    return !line.hidden;
  };

  LiveLog.prototype.filterAll = function () {
    var query = this.query();
    var self = this;
    var shown = 0;
    var lines = this.box.querySelectorAll(".log-line");
    lines.forEach(function (line) {
      if (self.filterOne(line, query)) {
        shown += 1;
      }
    });
    if (this.noMatch) {
      this.noMatch.hidden = !(query !== "" && lines.length > 0 && shown === 0);
    }
    if (query === "") {
      this.scrollDown();
    }
  };

  LiveLog.prototype.scrollDown = function () {
    if (this.stick) {
      this.box.scrollTop = this.box.scrollHeight;
    }
  };

  LiveLog.prototype.append = function (items) {
    var query = this.query();
    var fragment = document.createDocumentFragment();
    var self = this;
    items.forEach(function (item) {
      var line = document.createElement("div");
      line.className = "log-line level-" + String(item.level).replace(/[^a-z]/g, "");
      line.dataset.id = String(item.id);
      var time = document.createElement("time");
      time.dateTime = item.at;
      time.textContent = self.clock(item.at);
      line.append(
        time, " ",
        span("log-level", item.level), " ",
        span("log-stream", item.stream), " ",
        span("log-message", item.message)
      );
      self.filterOne(line, query);
      fragment.append(line);
    });
    this.box.append(fragment);
    if (this.empty) {
      this.empty.hidden = true;
    }
    if (query !== "") {
      this.filterAll();
    }
    this.scrollDown();
  };

  LiveLog.prototype.schedule = function (delay) {
    var self = this;
    window.setTimeout(function () { self.poll(); }, delay);
  };

  LiveLog.prototype.say = function (text) {
    if (this.status) {
      this.status.textContent = text;
    }
  };

  LiveLog.prototype.poll = function () {
    var self = this;
    var url = this.logsUrl + "?after=" + encodeURIComponent(this.after) + "&limit=" + PAGE;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          var error = new Error("HTTP " + response.status);
          error.status = response.status;
          throw error;
        }
        return response.json();
      })
      .then(function (body) { self.received(body); })
      .catch(function (error) {
        if (error.status && error.status < 500) {
          // Signed out, or the run is gone: following makes no sense any more.
          self.say("Stopped following the log (" + error.message + "). Reload the page.");
          return;
        }
        self.failures += 1;
        self.say("The server did not answer; trying again…");
        self.schedule(Math.min(MAX_WAIT_MS, POLL_MS * Math.pow(2, self.failures)));
      });
  };

  LiveLog.prototype.received = function (body) {
    this.failures = 0;
    this.polls += 1;
    if (body.items.length) {
      this.append(body.items);
    }
    this.after = body.next_after;
    var changed = body.state !== this.state;
    this.state = body.state;
    if (body.finished) {
      this.say("");
      this.refreshSummary();
      return;
    }
    this.say("following the run…");
    if (changed || this.polls % SUMMARY_EVERY === 0) {
      this.refreshSummary();
    }
    // A full page means more lines are waiting: fetch them at once.
    this.schedule(body.items.length >= PAGE ? 0 : POLL_MS);
  };

  // Swap in a fresh copy of the summary (state, times, progress, outputs, cancel button).
  LiveLog.prototype.refreshSummary = function () {
    return fetch(this.summaryUrl, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("run-summary");
        var current = document.getElementById("run-summary");
        if (fresh && current) {
          current.replaceWith(document.adoptNode(fresh));
        }
      })
      .catch(function () { /* the next change tries again */ });
  };

  function init() {
    var box = document.querySelector("[data-run-log]");
    if (box) {
      new LiveLog(box).start();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
