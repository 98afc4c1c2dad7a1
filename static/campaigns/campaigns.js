// The campaign pages' live parts. Server-rendered fragments replace their element:
// - `[data-live-url][data-live="true"]` (a sending campaign's stats, the list's rows) is
//   fetched again every second until its fragment says it is no longer live; a stats
//   card then reloads the page, so that the actions and recipients follow.
// - The composer (#campaign-form) posts itself to its preview URLs as it is edited:
//   the message rendered for a sample customer, and the audience of the segment.
(function () {
  "use strict";

  var POLL_MS = 1000;
  var TYPING_MS = 250;

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // --- Live figures -----------------------------------------------------------------

  function poll(element) {
    var url = element.dataset.liveUrl;
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        var next = html && fragment(html);
        if (!next) { window.setTimeout(function () { poll(element); }, 2 * POLL_MS); return; }
        element.replaceWith(next);
        if (next.dataset.live === "true") {
          window.setTimeout(function () { poll(next); }, POLL_MS);
        } else if (element.dataset.reloadWhenDone === "true") {
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(function () { poll(element); }, 2 * POLL_MS); });
  }

  document.querySelectorAll('[data-live-url][data-live="true"]').forEach(function (element) {
    window.setTimeout(function () { poll(element); }, POLL_MS);
  });

  // --- The composer -------------------------------------------------------------------

  var form = document.getElementById("campaign-form");
  if (!form) { return; }

  // Each preview keeps only the answer to its latest request.
  function previewer(url, targetId) {
    var latest = 0;
    var timer = null;
    function run() {
      var mine = ++latest;
      var target = document.getElementById(targetId);
      if (target) { target.classList.add("is-stale"); }
      fetch(url, { method: "POST", credentials: "same-origin", body: new FormData(form) })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (mine !== latest || !html) { return; }
          var current = document.getElementById(targetId);
          if (current) { current.replaceWith(fragment(html)); }
        })
        .catch(function () {
          var current = document.getElementById(targetId);
          if (current && mine === latest) { current.classList.remove("is-stale"); }
        });
    }
    return function (delay) {
      window.clearTimeout(timer);
      timer = window.setTimeout(run, delay);
    };
  }

  var previewMessage = previewer(form.dataset.previewUrl, "message-preview");
  var previewAudience = previewer(form.dataset.audienceUrl, "audience-preview");

  form.addEventListener("input", function (event) {
    var name = event.target.name;
    if (name === "message" || name === "subject" || name === "name") {
      previewMessage(TYPING_MS);
    }
  });
  form.addEventListener("change", function (event) {
    var name = event.target.name;
    if (name === "channel") {
      form.dataset.channel = event.target.value;
      previewMessage(0);
      previewAudience(0);
    } else if (name === "segment") {
      previewAudience(0);
    }
  });

  // One send per click: a second click while the page answers sends nothing more.
  form.addEventListener("submit", function (event) {
    if (form.dataset.sending === "true") { event.preventDefault(); return; }
    form.dataset.sending = "true";
    var submitter = event.submitter;
    if (submitter) {
      // A disabled button is not sent with the form: keep its value.
      var action = document.createElement("input");
      action.type = "hidden";
      action.name = submitter.name;
      action.value = submitter.value;
      form.appendChild(action);
    }
    form.querySelectorAll('button[type="submit"]').forEach(function (button) { button.disabled = true; });
  });
  // Back to this page from the history: its buttons work again.
  window.addEventListener("pageshow", function () {
    form.dataset.sending = "false";
    form.querySelectorAll('input[type="hidden"][name="action"]').forEach(function (input) { input.remove(); });
    form.querySelectorAll('button[type="submit"]').forEach(function (button) { button.disabled = false; });
  });
})();
