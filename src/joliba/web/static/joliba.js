// Page behaviour lives in small functions here (no inline scripts: the CSP forbids them).
// Everything is wired through data-attributes, by delegation where content can be swapped.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // Confirm dialogs: a submit button (or its form) with data-confirm asks first.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  }, true);

  // HTMX: swap error answers too (they are HTML fragments explaining what went wrong).
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status >= 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // ----- File uploads: each file streams to the API as the raw PUT body. -----

  function encodePath(path) {
    return path.split("/").map(encodeURIComponent).join("/");
  }

  function errorMessage(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) {
        return body.error.message;
      }
    } catch (ignored) { /* not JSON: fall through */ }
    return "upload failed (HTTP " + xhr.status + ")";
  }

  function uploadOne(box, file, list) {
    var folder = box.dataset.folder;
    var overwrite = box.querySelector("[data-upload-overwrite]");
    var path = (folder ? folder + "/" : "") + file.name;
    var url = box.dataset.url + encodePath(path) +
      "?overwrite=" + (overwrite && overwrite.checked ? "true" : "false");

    var item = document.createElement("li");
    var name = document.createElement("span");
    var bar = document.createElement("progress");
    var status = document.createElement("span");
    name.textContent = file.name;
    bar.max = 1;
    bar.value = 0;
    status.className = "muted";
    status.textContent = "waiting";
    item.append(name, bar, status);
    list.append(item);

    return function () {
      return new Promise(function (resolve) {
        var xhr = new XMLHttpRequest();
        xhr.open("PUT", url);
        xhr.setRequestHeader("X-CSRF-Token", csrfToken());
        xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
        xhr.upload.addEventListener("progress", function (e) {
          if (e.lengthComputable && e.total > 0) {
            bar.value = e.loaded / e.total;
            status.textContent = Math.round((100 * e.loaded) / e.total) + "%";
          }
        });
        xhr.addEventListener("load", function () {
          var ok = xhr.status >= 200 && xhr.status < 300;
          bar.value = ok ? 1 : bar.value;
          status.className = ok ? "ok" : "error";
          status.textContent = ok ? "uploaded" : errorMessage(xhr);
          item.dataset.state = ok ? "done" : "failed";
          resolve(ok);
        });
        xhr.addEventListener("error", function () {
          status.className = "error";
          status.textContent = "the connection to the server failed";
          item.dataset.state = "failed";
          resolve(false);
        });
        status.textContent = "0%";
        xhr.send(file);
      });
    };
  }

  // Replace the listing with a fresh copy; the progress list (and its errors) stays.
  function refreshListing() {
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("file-listing");
        var current = document.getElementById("file-listing");
        if (fresh && current) {
          current.replaceWith(fresh);
        }
      });
  }

  function uploadAll(box, files) {
    var list = box.querySelector("[data-upload-list]");
    var jobs = Array.prototype.map.call(files, function (file) { return uploadOne(box, file, list); });
    // One file at a time: steady progress and no burst of parallel writes on the server.
    var chain = Promise.resolve();
    jobs.forEach(function (job) { chain = chain.then(job); });
    chain.then(refreshListing).then(function () { box.dataset.idle = "true"; });
    box.dataset.idle = "false";
  }

  function setUpUploads(box) {
    var zone = box.querySelector("[data-dropzone]");
    var input = box.querySelector("[data-upload-input]");
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("over");
      if (event.dataTransfer && event.dataTransfer.files.length) {
        uploadAll(box, event.dataTransfer.files);
      }
    });
    input.addEventListener("change", function () {
      if (input.files.length) {
        uploadAll(box, input.files);
      }
      input.value = "";
    });
  }

  // ----- Connection forms -----

  // Show only the fields of the chosen type; disabled fieldsets are not submitted.
  function showConnectionType(select) {
    select.form.querySelectorAll("[data-conn-type]").forEach(function (fieldset) {
      var chosen = fieldset.dataset.connType === select.value;
      fieldset.hidden = !chosen;
      fieldset.disabled = !chosen;
    });
  }

  // Custom connections: a new empty key/value row; its checkbox carries its row index.
  function addRow(button) {
    var rows = button.closest("fieldset").querySelector("[data-kv-rows]");
    var last = rows.querySelector("[data-kv-row]:last-of-type");
    var row = last.cloneNode(true);
    row.querySelectorAll("input").forEach(function (input) {
      if (input.type === "checkbox") {
        input.checked = false;
        input.value = String(rows.querySelectorAll("[data-kv-row]").length);
      } else {
        input.value = "";
        if (input.name === "custom_value") {
          input.type = "text";
        }
      }
    });
    rows.append(row);
    row.querySelector("input").focus();
  }

  // A value marked secret is typed blind, like a password.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.name === "custom_secret") {
      var value = box.closest("[data-kv-row]").querySelector('[name="custom_value"]');
      value.type = box.checked ? "password" : "text";
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-row]");
    if (button) {
      addRow(button);
    }
  });

  function init() {
    document.querySelectorAll("[data-upload]").forEach(setUpUploads);
    document.querySelectorAll("[data-conn-type-select]").forEach(function (select) {
      showConnectionType(select);
      select.addEventListener("change", function () { showConnectionType(select); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
