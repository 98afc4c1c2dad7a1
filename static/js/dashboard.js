// The dashboard (/dashboard/): draws the figures the page embeds (#dashboard-data, the
// API's dict) with Chart.js (static/vendor/chart.js), and makes the window's form fetch
// the same payload as JSON (/dashboard/data?date_from=..&date_to=..) instead of
// reloading: the tiles take the server's texts, the charts get their new data
// (chart.update()), the URL follows (history.replaceState). A bad window shows the
// server's field errors. Without JavaScript the form is a plain GET.
(function () {
  "use strict";

  var form = document.getElementById("window-form");
  var root = document.getElementById("dashboard");
  var errorsBox = document.getElementById("window-errors");
  if (!form || !root || typeof window.Chart === "undefined") { return; }

  var Chart = window.Chart;
  var dataUrl = form.dataset.dataUrl;
  var charts = {};
  var COLORS = ["#2556d9", "#0e9384", "#dc6803", "#7a5af8", "#d92d20", "#15b79e",
                "#ee46bc", "#667085", "#4e5ba6", "#a15c07"];

  function number(value) {
    var n = typeof value === "number" ? value : parseFloat(value);
    return isNaN(n) ? 0 : n;
  }

  function keys(object) { return Object.keys(object || {}); }
  function values(object) { return keys(object).map(function (k) { return object[k]; }); }

  function label(key) {
    if (key === "vip") { return "VIP"; }
    var text = String(key).replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // Each chart: its canvas, its type and options, and how its labels and datasets come
  // from the figures. Datasets are listed in a fixed order so update() keeps them.
  var SPECS = {
    revenue: {
      canvas: "chart-revenue",
      type: "bar",
      data: function (d) {
        var months = d.customers.revenue_by_month || [];
        return {
          labels: months.map(function (m) { return m.month; }),
          datasets: [
            { type: "bar", label: "Revenue", yAxisID: "y",
              data: months.map(function (m) { return number(m.revenue); }),
              backgroundColor: COLORS[0] },
            { type: "line", label: "Orders", yAxisID: "orders",
              data: months.map(function (m) { return m.orders; }),
              borderColor: COLORS[2], backgroundColor: COLORS[2] }
          ]
        };
      },
      options: {
        scales: {
          y: { beginAtZero: true, position: "left" },
          orders: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } }
        }
      }
    },
    lifecycle: {
      canvas: "chart-lifecycle",
      type: "doughnut",
      data: function (d) {
        var buckets = d.customers.by_lifecycle || {};
        return {
          labels: keys(buckets).map(label),
          datasets: [{ label: "Customers", data: values(buckets),
                       backgroundColor: keys(buckets).map(function (_k, i) { return COLORS[i % COLORS.length]; }) }]
        };
      },
      options: {}
    },
    leads: {
      canvas: "chart-leads",
      type: "bar",
      data: function (d) {
        var byStatus = d.leads.by_status || {};
        return {
          labels: keys(byStatus).map(label),
          datasets: [{ label: "Leads", data: values(byStatus), backgroundColor: COLORS[0] }]
        };
      },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } }
    },
    campaigns: {
      canvas: "chart-campaigns",
      type: "bar",
      data: function (d) {
        var rows = d.campaigns.by_campaign || [];
        function series(name, i) {
          return { label: label(name), backgroundColor: COLORS[i],
                   data: rows.map(function (c) { return c[name]; }) };
        }
        return {
          labels: rows.map(function (c) { return c.name; }),
          datasets: [series("sent", 0), series("delivered", 1), series("opened", 2),
                     series("clicked", 3)]
        };
      },
      options: { scales: { y: { beginAtZero: true } } }
    },
    feedback: {
      canvas: "chart-feedback",
      type: "line",
      data: function (d) {
        var weeks = d.feedback.weekly_trend || [];
        return {
          labels: weeks.map(function (w) { return w.week; }),
          datasets: [
            { label: "Responses", yAxisID: "y", borderColor: COLORS[0], backgroundColor: COLORS[0],
              data: weeks.map(function (w) { return w.responses; }) },
            { label: "Average rating", yAxisID: "rating", borderColor: COLORS[2],
              backgroundColor: COLORS[2],
              data: weeks.map(function (w) { return w.average_rating === null ? null : number(w.average_rating); }) }
          ]
        };
      },
      options: {
        scales: {
          y: { beginAtZero: true, position: "left" },
          rating: { min: 1, max: 5, position: "right", grid: { drawOnChartArea: false } }
        }
      }
    },
    loyalty: {
      canvas: "chart-loyalty",
      type: "bar",
      data: function (d) {
        var l = d.loyalty || {};
        return {
          labels: ["Earned", "Redeemed", "Outstanding"],
          datasets: [{ label: "Points", data: [number(l.points_earned), number(l.points_redeemed), number(l.points_outstanding)],
                       backgroundColor: [COLORS[1], COLORS[2], COLORS[0]] }]
        };
      },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } }
    }
  };

  function draw(figures) {
    keys(SPECS).forEach(function (name) {
      var spec = SPECS[name];
      var fresh = spec.data(figures);
      var chart = charts[name];
      if (!chart) {
        var canvas = document.getElementById(spec.canvas);
        if (!canvas) { return; }
        var options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false },
                                    spec.options);
        charts[name] = new Chart(canvas, { type: spec.type, data: fresh, options: options });
        return;
      }
      chart.data.labels = fresh.labels;
      fresh.datasets.forEach(function (dataset, i) {
        if (chart.data.datasets[i]) {
          chart.data.datasets[i].data = dataset.data;
          if (dataset.backgroundColor) { chart.data.datasets[i].backgroundColor = dataset.backgroundColor; }
        } else {
          chart.data.datasets.push(dataset);
        }
      });
      chart.update();
    });
  }

  function showTiles(payload) {
    root.querySelectorAll("[data-tile]").forEach(function (tile) {
      var id = tile.dataset.tile;
      if (Object.prototype.hasOwnProperty.call(payload.tiles, id)) {
        tile.textContent = payload.tiles[id];
      }
      var value = payload.dashboard;
      tile.dataset.path.split(".").forEach(function (key) {
        value = value && typeof value === "object" ? value[key] : undefined;
      });
      tile.dataset.value = value === null || value === undefined ? "" : String(value);
    });
  }

  function showThemes(themes) {
    var list = document.getElementById("themes");
    if (!list) { return; }
    list.textContent = "";
    if (!themes || !themes.length) {
      var empty = document.createElement("li");
      empty.className = "muted";
      empty.dataset.empty = "true";
      empty.textContent = "No themes yet.";
      list.appendChild(empty);
      return;
    }
    themes.forEach(function (theme) {
      var item = document.createElement("li");
      item.dataset.theme = theme.theme;
      var name = document.createElement("strong");
      name.textContent = theme.theme;
      item.appendChild(name);
      var mentions = theme.mentions + " mention" + (theme.mentions === 1 ? "" : "s");
      var average = theme.average_rating === null ? "—" : theme.average_rating;
      item.appendChild(document.createTextNode(" — " + mentions + ", average " + average + ", " + theme.sentiment));
      list.appendChild(item);
    });
  }

  function showErrors(errors) {
    errorsBox.textContent = "";
    form.querySelectorAll("input").forEach(function (input) { input.removeAttribute("aria-invalid"); });
    if (!errors.length) { errorsBox.hidden = true; return; }
    errors.forEach(function (error) {
      var p = document.createElement("p");
      p.className = "field-error";
      if (error.attr) {
        p.dataset.field = error.attr;
        var input = form.querySelector('[name="' + error.attr + '"]');
        if (input) { input.setAttribute("aria-invalid", "true"); }
      }
      p.textContent = (error.attr ? error.attr + ": " : "") + error.detail;
      errorsBox.appendChild(p);
    });
    errorsBox.hidden = false;
  }

  function show(payload) {
    showErrors([]);
    root.hidden = false;
    showTiles(payload);
    draw(payload.dashboard);
    showThemes(payload.themes);
  }

  function query() {
    var params = new URLSearchParams();
    ["date_from", "date_to"].forEach(function (name) {
      var value = form.elements[name].value.trim();
      if (value) { params.set(name, value); }
    });
    return params.toString();
  }

  function load(search) {
    document.body.classList.add("is-loading");
    return fetch(dataUrl + (search ? "?" + search : ""), {
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (body) { return { response: response, body: body }; });
    }).then(function (result) {
      if (!result.response.ok) {
        showErrors(result.body.errors || [{ attr: null, detail: result.body.message || "Could not load the figures." }]);
        return;
      }
      show(result.body);
      var page = form.getAttribute("action") + (search ? "?" + search : "");
      window.history.replaceState(null, "", page);
    }).catch(function () {
      showErrors([{ attr: null, detail: "Could not load the figures. Try again." }]);
    }).then(function () {
      document.body.classList.remove("is-loading");
      root.dataset.loaded = search;
      document.dispatchEvent(new CustomEvent("dashboard:loaded", { detail: { query: search } }));
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    load(query());
  });
  document.getElementById("window-all").addEventListener("click", function (event) {
    event.preventDefault();
    form.elements.date_from.value = "";
    form.elements.date_to.value = "";
    load("");
  });

  var embedded = document.getElementById("dashboard-data");
  if (embedded) {
    draw(JSON.parse(embedded.textContent).dashboard);
  }
})();
