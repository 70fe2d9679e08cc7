// Saathi agent console: live updates over Server-Sent Events, alerts, canned replies.
// Shopper text is only ever inserted with textContent (never innerHTML).
(function () {
  "use strict";
  var body = document.body;
  var page = body.dataset.page;
  var csrf = body.dataset.csrf;
  if (!body.dataset.agentId) { return; }
  var myLangs = (body.dataset.languages || "").split(",");

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }

  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      var ctx = new Ctx();
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.1;
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.2);
    } catch (e) { /* no audio */ }
  }

  function notify(title, text) {
    beep();
    if (window.Notification && Notification.permission === "granted") {
      try { new Notification(title, { body: text }); } catch (e) { /* ignore */ }
    }
  }

  var alerts = document.getElementById("enable-alerts");
  if (alerts) {
    alerts.addEventListener("click", function () {
      if (window.Notification) { Notification.requestPermission(); }
      beep();
    });
  }

  function minutes(seconds) {
    return seconds >= 60 ? (seconds / 60).toFixed(1) + " min" : Math.round(seconds) + " s";
  }

  function postJSON(url, data) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(data)
    });
  }

  function renderQueue(data) {
    var tbody = document.getElementById("waiting");
    if (!tbody) { return; }
    tbody.replaceChildren();
    if (!data.waiting.length) {
      var empty = el("tr"); var td = el("td", "Nobody is waiting.", "muted"); td.colSpan = 8;
      empty.appendChild(td); tbody.appendChild(empty);
    }
    data.waiting.forEach(function (h) {
      var tr = el("tr", null, h.mine_language ? "mine-lang" : "other-lang");
      var link = el("a", h.id); link.href = "/console/handoffs/" + h.id;
      var first = el("td"); first.appendChild(link); tr.appendChild(first);
      [h.position, h.first_name || "–", h.language, h.channel, h.reason, minutes(h.waiting_seconds)].forEach(function (v) {
        tr.appendChild(el("td", v));
      });
      var btn = el("button", "Claim");
      btn.addEventListener("click", function () {
        postJSON("/console/handoffs/" + h.id + "/claim", {}).then(function (r) {
          if (r.ok) { window.location = "/console/handoffs/" + h.id; } else { refreshQueue(); }
        });
      });
      var cell = el("td"); cell.appendChild(btn); tr.appendChild(cell);
      tbody.appendChild(tr);
    });
    var t = document.getElementById("tickets"); if (t) { t.textContent = data.tickets; }
    var a = document.getElementById("active"); if (a) { a.textContent = data.active; }
  }

  function refreshQueue() {
    fetch("/console/queue.json", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { renderQueue(data); } });
  }

  // A photo (served by /console/media/<file>) or a location (text and a map link).
  function attachment(a) {
    if (a.type === "image") {
      var fig = el("figure", null, "attachment photo");
      var src = "/console/media/" + encodeURIComponent(a.file);
      var link = el("a"); link.href = src; link.target = "_blank"; link.rel = "noopener";
      var img = el("img"); img.src = src; img.alt = a.caption || "photo from the shopper";
      link.appendChild(img); fig.appendChild(link);
      if (a.caption) { fig.appendChild(el("figcaption", a.caption)); }
      return fig;
    }
    if (a.type === "image_missing") {
      return el("div", "The shopper sent a photo that could not be downloaded" +
                (a.caption ? " (" + a.caption + ")" : "") + ".", "attachment missing");
    }
    var div = el("div", "Location: " + [a.name, a.address].filter(Boolean).join(" ") +
                 " (" + a.latitude + ", " + a.longitude + ") ", "attachment location");
    if (typeof a.map_url === "string" && a.map_url.indexOf("https://www.openstreetmap.org/") === 0) {
      var map = el("a", "Open map"); map.href = a.map_url; map.target = "_blank"; map.rel = "noopener noreferrer";
      div.appendChild(map);
    }
    return div;
  }

  var handoffId = body.dataset.handoffId ? parseInt(body.dataset.handoffId, 10) : null;

  function appendSent(id, agentName, text, state) {
    var list = document.getElementById("sent");
    if (!list || list.querySelector('[data-outbox-id="' + id + '"]')) { return; }
    var li = el("li", null, "agent"); li.dataset.outboxId = id;
    li.appendChild(el("b", agentName)); li.appendChild(document.createTextNode(" "));
    li.appendChild(el("span", text, "text")); li.appendChild(document.createTextNode(" "));
    li.appendChild(el("span", state, "state state-" + state));
    list.appendChild(li);
  }

  function setState(outboxId, state) {
    var li = document.querySelector('#sent [data-outbox-id="' + outboxId + '"] .state');
    if (li) { li.textContent = state; li.className = "state state-" + state; }
  }

  // Canned responses fill the reply box; the reply form posts JSON so the page stays put.
  document.querySelectorAll(".canned-btn").forEach(function (b) {
    b.addEventListener("click", function () {
      var box = document.getElementById("reply-text");
      if (box) { box.value = b.dataset.text; box.focus(); }
    });
  });
  var form = document.getElementById("reply-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var box = document.getElementById("reply-text");
      var text = box.value.trim();
      if (!text) { return; }
      postJSON(form.action, { text: text }).then(function (r) { return r.json(); }).then(function (data) {
        if (data.outbox_id) { appendSent(data.outbox_id, "You", text, data.state); box.value = ""; }
        else { alert("Not sent: " + (data.error || "error")); }
      });
    });
  }

  if (!window.EventSource) { return; }
  var source = new EventSource("/console/stream");
  function on(kind, fn) {
    source.addEventListener(kind, function (ev) {
      var data; try { data = JSON.parse(ev.data); } catch (e) { return; }
      fn(data);
    });
  }
  on("handoff_new", function (d) {
    if (page === "queue") { refreshQueue(); }
    if (d.status === "queued") {
      notify("New conversation waiting", d.language + " · " + d.reason);
    }
  });
  ["claimed", "handoff_left", "queue_changed", "closed", "transferred"].forEach(function (k) {
    on(k, function () { if (page === "queue") { refreshQueue(); } });
  });
  on("shopper_message", function (d) {
    if (page === "conversation" && d.handoff_id === handoffId) {
      var list = document.getElementById("transcript");
      if (list) {
        var li = el("li", null, "shopper");
        if (typeof d.at === "number") {
          li.appendChild(el("span", new Date(d.at * 1000).toLocaleString(undefined, {
            day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit", hour12: false }), "at"));
          li.appendChild(document.createTextNode(" "));
        }
        li.appendChild(el("b", "shopper")); li.appendChild(document.createTextNode(" "));
        li.appendChild(el("span", d.text, "text"));
        (d.attachments || []).forEach(function (a) { li.appendChild(attachment(a)); });
        list.appendChild(li);
      }
    }
  });
  on("message_delivered", function (d) { setState(d.outbox_id, "delivered"); });
  on("message_failed", function (d) { setState(d.outbox_id, "failed"); });
})();
