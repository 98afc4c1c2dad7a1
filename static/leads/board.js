// The pipeline board (/leads/): a card moves to another column by HTML5 drag and drop,
// or by its status menu and "Move" button (keyboard users; without JavaScript that form
// posts and the page comes back). A move is a PATCH to the card's `data-move-url` with
// the board's filters in the query string; the answer (JSON) carries every column's
// count under those filters, which replace the ones shown. A refused move puts the card
// back where it was and shows the server's message.
(function () {
  "use strict";

  var board = document.getElementById("board");
  if (!board || board.dataset.canWrite !== "true") { return; }

  var csrfToken = board.querySelector("[name=csrfmiddlewaretoken]").value;
  var query = board.dataset.query ? "?" + board.dataset.query : "";
  var messageBox = document.getElementById("board-message");
  var statusBox = document.getElementById("board-status");
  var dragged = null;

  function columnList(status) {
    return board.querySelector('.board-cards[data-status="' + status + '"]');
  }

  function showError(text) {
    messageBox.textContent = text;
    messageBox.hidden = false;
  }

  function announce(text) {
    messageBox.hidden = true;
    messageBox.textContent = "";
    statusBox.textContent = text;
  }

  function updateCounts(counts) {
    var total = 0;
    Object.keys(counts).forEach(function (status) {
      total += counts[status];
      var badge = board.querySelector('[data-count-for="' + status + '"]');
      if (badge) { badge.textContent = String(counts[status]); }
    });
    var totalBox = document.getElementById("board-total");
    if (totalBox) {
      totalBox.textContent = String(total);
      totalBox.dataset.count = String(total);
    }
  }

  // A converted card is a customer now: no more moves, a link to the customer instead.
  function markConverted(card, customerUrl) {
    card.removeAttribute("draggable");
    var form = card.querySelector(".lead-move");
    if (form) { form.remove(); }
    if (customerUrl) {
      var link = document.createElement("a");
      link.className = "lead-customer";
      link.href = customerUrl;
      link.textContent = "Customer →";
      card.appendChild(link);
    }
  }

  function errorText(response, body) {
    if (body && body.message) { return body.message; }
    if (response.status === 403) { return "Your role in this account does not allow moving leads."; }
    if (response.status === 404) { return "This lead no longer exists."; }
    return "The lead could not be moved (" + response.status + ").";
  }

  function move(card, status) {
    var from = card.parentElement;
    var before = card.nextElementSibling;
    var previous = card.dataset.status;
    if (!status || status === previous) { return; }
    var target = columnList(status);
    if (!target) { return; }
    target.insertBefore(card, target.firstElementChild);
    card.classList.add("is-busy");

    function putBack() {
      from.insertBefore(card, before && before.parentElement === from ? before : null);
      var select = card.querySelector("select[name=status]");
      if (select) { select.value = previous; }
    }

    fetch(card.dataset.moveUrl + query, {
      method: "PATCH",
      credentials: "same-origin",
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
        "X-CSRFToken": csrfToken,
        "X-Requested-With": "fetch"
      },
      body: new URLSearchParams({ status: status }).toString()
    })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        var parsed = type.indexOf("application/json") === 0 ? response.json() : Promise.resolve(null);
        return parsed.then(function (body) { return { response: response, body: body }; });
      })
      .then(function (result) {
        card.classList.remove("is-busy");
        if (!result.response.ok || !result.body) {
          putBack();
          showError(errorText(result.response, result.body));
          return;
        }
        card.dataset.status = result.body.status;
        var select = card.querySelector("select[name=status]");
        if (select) { select.value = result.body.status; }
        if (result.body.status === "converted") { markConverted(card, result.body.customer_url); }
        updateCounts(result.body.counts);
        announce(result.body.message);
      })
      .catch(function () {
        card.classList.remove("is-busy");
        putBack();
        showError("The lead could not be moved: the server did not answer.");
      });
  }

  // --- Drag and drop --------------------------------------------------------------------

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest('.lead-card[draggable="true"]');
    if (!card) { return; }
    dragged = card;
    card.classList.add("is-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.lead);
  });

  board.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("is-dragging"); }
    dragged = null;
    board.querySelectorAll(".is-drop-target").forEach(function (list) {
      list.classList.remove("is-drop-target");
    });
  });

  function dropList(event) {
    var column = event.target.closest && event.target.closest(".board-column");
    return column ? column.querySelector(".board-cards") : null;
  }

  board.addEventListener("dragover", function (event) {
    var list = dropList(event);
    if (!dragged || !list || list.dataset.status === dragged.dataset.status) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    board.querySelectorAll(".is-drop-target").forEach(function (other) {
      if (other !== list) { other.classList.remove("is-drop-target"); }
    });
    list.classList.add("is-drop-target");
  });

  board.addEventListener("drop", function (event) {
    var list = dropList(event);
    if (!dragged || !list) { return; }
    event.preventDefault();
    list.classList.remove("is-drop-target");
    var card = dragged;
    dragged = null;
    card.classList.remove("is-dragging");
    move(card, list.dataset.status);
  });

  // --- The status menu --------------------------------------------------------------------

  board.addEventListener("submit", function (event) {
    var form = event.target.closest(".lead-move");
    if (!form) { return; }
    event.preventDefault();
    var card = form.closest(".lead-card");
    move(card, form.querySelector("select[name=status]").value);
  });
})();
