/*
 * Saathi website chat widget: a floating button that opens a chat panel talking to Rasa's
 * socketio channel. A shop adds one tag to its pages:
 *
 *   <script src="https://BRIDGE/widget/saathi.js" data-rasa-url="https://RASA" defer></script>
 *
 * Optional attributes: data-lang (en, hi, bn: the widget's own labels; default the page's
 * <html lang>), data-title, data-bridge-url (default: where this file came from; used for the
 * handoff status), data-socket-path (default /socket.io).
 *
 * The script loads saathi.css and the vendored Socket.IO client (vendor/socket.io.min.js) from
 * its own folder. The session id and a copy of the messages live in localStorage, so a reload
 * keeps the conversation (Rasa's `session_persistence: true` keeps the same sender id). Shopper
 * and bot text is always inserted as text nodes, never as HTML.
 */
(function () {
  "use strict";
  if (window.SaathiWidget) return;

  var script = document.currentScript || document.querySelector("script[data-rasa-url]");
  if (!script || !script.getAttribute("data-rasa-url")) {
    if (window.console) console.error("Saathi widget: the <script> tag needs data-rasa-url");
    return;
  }
  var scriptUrl = new URL(script.src, document.baseURI);
  var CONFIG = {
    rasaUrl: script.getAttribute("data-rasa-url").replace(/\/+$/, ""),
    bridgeUrl: (script.getAttribute("data-bridge-url") || scriptUrl.origin).replace(/\/+$/, ""),
    socketPath: script.getAttribute("data-socket-path") || "/socket.io",
    base: new URL(".", scriptUrl).href,
    lang: pickLang(script.getAttribute("data-lang") || document.documentElement.lang || navigator.language),
    title: script.getAttribute("data-title") || ""
  };
  var MAX_CHARS = 4000;
  var MAX_STORED = 200;
  var CATCH_UP_MARGIN_MS = 5000;  // a catch-up also looks this far before the socket dropped
  var BOT_WAIT_MS = 20000;
  var AGENT_WAIT_MS = 60000;
  var OPEN_STATES = { queued: 1, with_agent: 1, offline_ticket: 1 };

  var TEXT = {
    en: {
      open: "Chat with us", close: "Close chat", title: "Chat with us", subtitle: "Saathi, your shopping helper",
      placeholder: "Type your message…", label: "Your message", send: "Send", log: "Conversation",
      queued: "Connecting you to a person…", with_agent: "{name} is here", with_agent_anon: "A person has joined",
      closed: "Your chat with {name} has ended", closed_anon: "Your chat with our team has ended",
      offline_ticket: "Our team is offline. A person will reply here.", agent: "{name}, support team",
      reconnecting: "Connection lost. Reconnecting…", typing: "Typing…", replies: "Suggested replies"
    },
    hi: {
      open: "हमसे चैट करें", close: "चैट बंद करें", title: "हमसे चैट करें", subtitle: "साथी, आपका शॉपिंग सहायक",
      placeholder: "अपना संदेश लिखें…", label: "आपका संदेश", send: "भेजें", log: "बातचीत",
      queued: "आपको एक व्यक्ति से जोड़ा जा रहा है…", with_agent: "{name} आपसे जुड़ गए हैं", with_agent_anon: "एक व्यक्ति जुड़ गए हैं",
      closed: "{name} के साथ आपकी चैट समाप्त हुई", closed_anon: "हमारी टीम के साथ आपकी चैट समाप्त हुई",
      offline_ticket: "हमारी टीम अभी ऑफ़लाइन है। कोई व्यक्ति यहीं जवाब देगा।", agent: "{name}, सपोर्ट टीम",
      reconnecting: "कनेक्शन टूट गया। दोबारा जोड़ रहे हैं…", typing: "लिख रहे हैं…", replies: "सुझाए गए जवाब"
    },
    bn: {
      open: "আমাদের সাথে চ্যাট করুন", close: "চ্যাট বন্ধ করুন", title: "আমাদের সাথে চ্যাট করুন", subtitle: "সাথী, আপনার কেনাকাটার সহায়ক",
      placeholder: "আপনার বার্তা লিখুন…", label: "আপনার বার্তা", send: "পাঠান", log: "কথোপকথন",
      queued: "আপনাকে একজন মানুষের সাথে যুক্ত করা হচ্ছে…", with_agent: "{name} এখানে আছেন", with_agent_anon: "একজন মানুষ যুক্ত হয়েছেন",
      closed: "{name}-এর সাথে আপনার চ্যাট শেষ হয়েছে", closed_anon: "আমাদের টিমের সাথে আপনার চ্যাট শেষ হয়েছে",
      offline_ticket: "আমাদের টিম এখন অফলাইনে। একজন মানুষ এখানেই উত্তর দেবেন।", agent: "{name}, সাপোর্ট টিম",
      reconnecting: "সংযোগ বিচ্ছিন্ন। আবার যুক্ত হচ্ছে…", typing: "লিখছেন…", replies: "প্রস্তাবিত উত্তর"
    }
  };

  function pickLang(value) {
    var v = String(value || "").toLowerCase();
    if (v.indexOf("bn") === 0) return "bn";
    if (v.indexOf("hi") === 0) return "hi";
    return "en";
  }

  /** The language of a text by its script: bn, hi, en (Latin letters) or "" (nothing to tell). */
  function scriptLang(text) {
    if (/[\u0980-\u09ff]/.test(text)) return "bn";
    if (/[\u0900-\u097f]/.test(text)) return "hi";
    if (/[A-Za-z]/.test(text)) return "en";
    return "";
  }

  // ---- storage (a blocked localStorage must not break the chat) ---------------------------
  var memory = {};
  var prefix = "saathi:" + CONFIG.rasaUrl + ":";
  function load(key, fallback) {
    var raw;
    try { raw = window.localStorage.getItem(prefix + key); } catch (e) { raw = memory[key]; }
    if (raw == null) return fallback;
    try { return JSON.parse(raw); } catch (e) { return fallback; }
  }
  function save(key, value) {
    var raw = JSON.stringify(value);
    try { window.localStorage.setItem(prefix + key, raw); } catch (e) { memory[key] = raw; }
  }
  function newSessionId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  var state = {
    sessionId: load("session", null),
    messages: load("messages", []),
    handoff: load("handoff", null),   // {status, agent}
    uiLang: load("lang", "") || CONFIG.lang,
    socket: null,
    confirmed: false,
    outbox: [],
    typingTimer: null,
    statusTimer: null,
    lostAt: 0,        // when the socket dropped (this page's clock)
    replayed: []      // texts shown by a catch-up that the socket may still deliver
  };
  if (!Array.isArray(state.messages)) state.messages = [];

  function t(key, values) {
    var s = (TEXT[state.uiLang] || TEXT.en)[key] || TEXT.en[key];
    return s.replace(/\{(\w+)\}/g, function (_, k) { return values && values[k] != null ? values[k] : ""; });
  }

  // ---- DOM helpers ------------------------------------------------------------------------
  function el(tag, cls, attrs) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function safeUrl(raw) {
    try {
      var u = new URL(String(raw), document.baseURI);
      return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
    } catch (e) { return null; }
  }
  var URL_RE = /https?:\/\/[^\s<>"'()]+/g;
  /** Text with its web addresses as links; every piece goes in as a text node. */
  function appendText(parent, text) {
    var last = 0, match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var url = match[0].replace(/[.,;:!?।]+$/, "");
      var href = safeUrl(url);
      if (!href) continue;
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = el("a", "", { href: href, target: "_blank", rel: "noopener noreferrer" });
      a.textContent = url;
      parent.appendChild(a);
      last = match.index + url.length;
      URL_RE.lastIndex = last;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }
  var ICON_CHAT = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z";
  var ICON_DOWN = "M5.6 8.2 12 14.6l6.4-6.4L20 9.8l-8 8-8-8z";
  function svgIcon(d, cls) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", cls);
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }

  // ---- the widget's elements --------------------------------------------------------------
  var ui = {};
  function build() {
    var root = el("div", "saathi-root", { id: "saathi-widget" });
    var launcher = el("button", "saathi-launcher", { type: "button", "aria-expanded": "false", "aria-controls": "saathi-panel" });
    launcher.appendChild(svgIcon(ICON_CHAT, "saathi-icon-chat"));
    launcher.appendChild(svgIcon(ICON_DOWN, "saathi-icon-down"));
    var panel = el("section", "saathi-panel", { id: "saathi-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "saathi-title" });
    panel.hidden = true;

    var header = el("div", "saathi-header");
    var headText = el("div", "saathi-header-text");
    var title = el("h2", "saathi-title", { id: "saathi-title" });
    var subtitle = el("p", "saathi-subtitle");
    headText.appendChild(title);
    headText.appendChild(subtitle);
    var close = el("button", "saathi-close", { type: "button" });
    close.textContent = "×";
    header.appendChild(headText);
    header.appendChild(close);

    var banner = el("div", "saathi-banner", { role: "status" });
    banner.hidden = true;
    var notice = el("div", "saathi-notice", { role: "alert" });
    notice.hidden = true;
    var log = el("div", "saathi-log", { role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0" });
    var typing = el("div", "saathi-typing", { role: "status" });
    typing.appendChild(el("span", "", { "aria-hidden": "true" }));
    typing.appendChild(el("span", "", { "aria-hidden": "true" }));
    typing.appendChild(el("span", "", { "aria-hidden": "true" }));
    var typingText = el("span", "saathi-sr");
    typing.appendChild(typingText);
    typing.hidden = true;

    var form = el("form", "saathi-form", { novalidate: "" });
    var label = el("label", "saathi-sr", { "for": "saathi-input" });
    var input = el("input", "saathi-input", { id: "saathi-input", type: "text", autocomplete: "off", maxlength: String(MAX_CHARS), enterkeyhint: "send" });
    var send = el("button", "saathi-send", { type: "submit" });
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);

    panel.appendChild(header);
    panel.appendChild(banner);
    panel.appendChild(notice);
    panel.appendChild(log);
    panel.appendChild(form);
    root.appendChild(panel);
    root.appendChild(launcher);
    document.body.appendChild(root);

    ui = { root: root, launcher: launcher, panel: panel, title: title, subtitle: subtitle, close: close,
           banner: banner, notice: notice, log: log, typing: typing, typingText: typingText,
           form: form, label: label, input: input, send: send };

    launcher.addEventListener("click", function () { if (panel.hidden) openPanel(); else closePanel(); });
    close.addEventListener("click", closePanel);
    panel.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { ev.preventDefault(); closePanel(); } });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = input.value.replace(/\s+$/, "").replace(/^\s+/, "");
      if (!text) return;
      input.value = "";
      sendText(text, text);
      input.focus();
    });
  }

  function applyLabels() {
    ui.root.setAttribute("lang", state.uiLang);
    ui.launcher.setAttribute("aria-label", t("open"));
    ui.title.textContent = CONFIG.title || t("title");
    ui.subtitle.textContent = t("subtitle");
    ui.close.setAttribute("aria-label", t("close"));
    ui.log.setAttribute("aria-label", t("log"));
    ui.label.textContent = t("label");
    ui.input.setAttribute("placeholder", t("placeholder"));
    ui.send.textContent = t("send");
    ui.typingText.textContent = t("typing");
    ui.notice.textContent = t("reconnecting");
    renderBanner();
  }

  function openPanel() {
    ui.panel.hidden = false;
    ui.root.classList.add("saathi-open");
    ui.launcher.setAttribute("aria-expanded", "true");
    ui.launcher.setAttribute("aria-label", t("close"));
    try { sessionStorage.setItem(prefix + "open", "1"); } catch (e) { /* private mode */ }
    connect();
    scrollDown();
    ui.input.focus();
  }
  function closePanel() {
    ui.panel.hidden = true;
    ui.root.classList.remove("saathi-open");
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.launcher.setAttribute("aria-label", t("open"));
    try { sessionStorage.removeItem(prefix + "open"); } catch (e) { /* private mode */ }
    ui.launcher.focus();
  }

  // ---- messages ---------------------------------------------------------------------------
  function store(msg) {
    state.messages.push(msg);
    if (state.messages.length > MAX_STORED) state.messages.splice(0, state.messages.length - MAX_STORED);
    save("messages", state.messages);
  }

  function renderMessage(msg, index) {
    var wrap = el("div", "saathi-msg saathi-from-" + msg.w);
    wrap.setAttribute("data-index", String(index));
    if (msg.w === "agent") {
      var who = el("div", "saathi-who");
      who.textContent = t("agent", { name: msg.a || "" }).replace(/^,\s*/, "");
      wrap.appendChild(who);
    }
    if (msg.t) {
      var bubble = el("div", "saathi-bubble");
      var lang = scriptLang(msg.t);
      if (lang) bubble.setAttribute("lang", lang);
      appendText(bubble, msg.t);
      wrap.appendChild(bubble);
    }
    if (msg.img) {
      var src = safeUrl(msg.img);
      if (src) {
        var img = el("img", "saathi-image", { src: src, alt: msg.alt || "", loading: "lazy" });
        wrap.appendChild(img);
      }
    }
    if (msg.qr && msg.qr.length && !msg.used && index === state.messages.length - 1) {
      var row = el("div", "saathi-replies", { role: "group", "aria-label": t("replies") });
      msg.qr.forEach(function (reply) {
        var b = el("button", "saathi-reply", { type: "button" });
        var lang = scriptLang(reply.title);
        if (lang) b.setAttribute("lang", lang);
        b.textContent = reply.title;
        b.addEventListener("click", function () {
          msg.used = true;
          save("messages", state.messages);
          row.remove();
          sendText(reply.payload, reply.title);
          ui.input.focus();
        });
        row.appendChild(b);
      });
      wrap.appendChild(row);
    }
    return wrap;
  }

  function renderAll() {
    while (ui.log.firstChild) ui.log.removeChild(ui.log.firstChild);
    state.messages.forEach(function (msg, i) { ui.log.appendChild(renderMessage(msg, i)); });
    ui.log.appendChild(ui.typing);
    scrollDown();
  }

  function append(msg) {
    // Quick replies belong to the latest message only.
    var previous = ui.log.querySelector(".saathi-replies");
    if (previous) previous.remove();
    store(msg);
    ui.log.insertBefore(renderMessage(msg, state.messages.length - 1), ui.typing);
    scrollDown();
  }

  function rerender(index) {
    var node = ui.log.querySelector('[data-index="' + index + '"]');
    if (node) node.replaceWith(renderMessage(state.messages[index], index));
  }

  function scrollDown() { ui.log.scrollTop = ui.log.scrollHeight; }

  function showTyping(ms) {
    clearTimeout(state.typingTimer);
    ui.typing.hidden = false;
    scrollDown();
    state.typingTimer = setTimeout(hideTyping, ms);
  }
  function hideTyping() {
    clearTimeout(state.typingTimer);
    ui.typing.hidden = true;
  }

  // ---- handoff banner ---------------------------------------------------------------------
  function setHandoff(status, agent) {
    var prev = state.handoff || {};
    if (!status || status === "left") {
      state.handoff = null;
    } else {
      state.handoff = { status: status, agent: agent || (status === prev.status || status === "closed" ? prev.agent : "") || "" };
    }
    save("handoff", state.handoff);
    renderBanner();
  }
  function renderBanner() {
    var h = state.handoff;
    if (!h || !ui.banner) { if (ui.banner) ui.banner.hidden = true; return; }
    var key = h.status;
    if ((key === "with_agent" || key === "closed") && !h.agent) key += "_anon";
    if (!TEXT.en[key]) { ui.banner.hidden = true; return; }
    ui.banner.setAttribute("data-state", h.status);
    ui.banner.textContent = t(key, { name: h.agent });
    ui.banner.hidden = false;
  }

  /** A marker the handoff bridge sends after its own messages: who said them and the state now. */
  function applyMarker(marker) {
    var parts = Math.max(1, parseInt(marker.parts, 10) || 1);
    var who = marker.from === "agent" ? "agent" : "bridge";
    for (var i = state.messages.length - 1; i >= 0 && parts > 0; i--) {
      var msg = state.messages[i];
      if (msg.w === "user") break;
      if (msg.w !== "bot") continue;
      msg.w = who;
      if (who === "agent") msg.a = marker.agent_name || "";
      parts--;
      rerender(i);
    }
    save("messages", state.messages);
    var agent = marker.status === "with_agent" || marker.from === "agent" ? marker.agent_name : "";
    setHandoff(marker.status, agent);
  }

  /** Ask the bridge for the handoff state (after a reload, and after the bot answered). */
  function checkStatus() {
    if (!state.sessionId || !window.fetch) return;
    fetch(CONFIG.bridgeUrl + "/widget/status/" + encodeURIComponent(state.sessionId), { cache: "no-store", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) return;
        var current = state.handoff && state.handoff.status;
        if (OPEN_STATES[body.status]) setHandoff(body.status, body.agent_name);
        else if (current && OPEN_STATES[current]) setHandoff(body.status, body.agent_name);
      })
      .catch(function () { /* the banner is a convenience: the chat works without it */ });
  }
  function scheduleStatusCheck() {
    clearTimeout(state.statusTimer);
    state.statusTimer = setTimeout(checkStatus, 700);
  }

  // ---- talking to Rasa --------------------------------------------------------------------
  function sendText(payload, shown) {
    var lang = scriptLang(shown);
    if ((lang === "bn" || lang === "hi") && lang !== state.uiLang) {
      state.uiLang = lang;
      save("lang", lang);
      applyLabels();
    }
    if (state.handoff && state.handoff.status === "closed") setHandoff(null);
    append({ w: "user", t: shown, ts: Date.now() });
    var status = state.handoff && state.handoff.status;
    if (status !== "queued") showTyping(status === "with_agent" ? AGENT_WAIT_MS : BOT_WAIT_MS);
    state.outbox.push(payload.slice(0, MAX_CHARS));
    connect();
    flush();
  }
  function flush() {
    if (!state.socket || !state.confirmed) return;
    while (state.outbox.length) {
      state.socket.emit("user_uttered", { message: state.outbox.shift(), session_id: state.sessionId });
    }
  }

  function onBotMessage(m) {
    if (!m || typeof m !== "object") return;
    if (m.saathi && typeof m.saathi === "object") { applyMarker(m.saathi); return; }
    var text = typeof m.text === "string" ? m.text : "";
    var seen = text ? state.replayed.indexOf(text) : -1;
    if (seen >= 0) { state.replayed.splice(seen, 1); return; }  // already shown by a catch-up
    var replies = (Array.isArray(m.quick_replies) && m.quick_replies.length ? m.quick_replies : m.buttons) || [];
    var qr = replies.filter(function (r) { return r && r.title != null && r.payload != null; })
      .map(function (r) { return { title: String(r.title), payload: String(r.payload) }; });
    var img = null;
    var att = m.attachment;
    if (att && att.payload && (att.type === "image" || !att.type)) img = att.payload.src || att.payload.url || null;
    if (!img && typeof m.image === "string") img = m.image;
    if (!text && !img && !qr.length) {
      if (att && att.payload && (att.payload.src || att.payload.url)) text = String(att.payload.src || att.payload.url);
      else return;
    }
    hideTyping();
    var msg = { w: "bot", t: text, ts: Date.now() };
    if (qr.length) msg.qr = qr;
    if (img) msg.img = img;
    append(msg);
    scheduleStatusCheck();
  }

  // ---- catching up ------------------------------------------------------------------------
  /** Messages pushed while the socket was down (an agent's reply during a reconnect, or while the
   *  tab was closed) never reach this page live: ask the bridge for what was said in that time,
   *  and show what is not on screen yet. Times are durations, so the two clocks need not agree. */
  function catchUp(sinceMs) {
    if (!state.sessionId || !window.fetch || !CONFIG.bridgeUrl) return;
    var ms = Math.min(Math.max(0, Math.round(sinceMs)) + CATCH_UP_MARGIN_MS, 86400000);
    var url = CONFIG.bridgeUrl + "/widget/messages/" + encodeURIComponent(state.sessionId) + "?since_ms=" + ms;
    var from = Date.now() - ms;
    fetch(url, { cache: "no-store", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || !Array.isArray(body.messages)) { checkStatus(); return; }
        // Texts already on screen from that time (each matches one message at most).
        var shown = state.messages.filter(function (msg) { return msg.w !== "user" && msg.ts >= from - 2000; })
          .map(function (msg) { return msg.t; });
        body.messages.forEach(function (parts) {
          if (!Array.isArray(parts)) return;
          var texts = parts.filter(function (m) { return m && typeof m.text === "string"; })
            .map(function (m) { return m.text; });
          var known = texts.length > 0 && texts.every(function (tx) {
            var i = shown.indexOf(tx);
            if (i < 0) return false;
            shown.splice(i, 1);
            return true;
          });
          if (known) return;
          parts.forEach(function (m) {
            onBotMessage(m);
            if (m && typeof m.text === "string") state.replayed.push(m.text);
          });
        });
        if (state.replayed.length > 20) state.replayed.splice(0, state.replayed.length - 20);
        checkStatus();
      })
      .catch(function () { checkStatus(); /* the next reconnect or reload asks again */ });
  }

  function connect() {
    if (state.socket) return;
    if (!window.io) { loadClient(); return; }
    if (!state.sessionId) {
      state.sessionId = newSessionId();
      save("session", state.sessionId);
    }
    var socket = window.io(CONFIG.rasaUrl, {
      path: CONFIG.socketPath,
      query: { sid_hint: state.sessionId },  // lets a load balancer keep a session on one Rasa replica
      // WebSocket first (one connection instead of a long-poll per message); polling when a
      // proxy blocks it. Both are allowed only from the shop's origins (SAATHI_CORS_ORIGINS).
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnectionDelayMax: 10000
    });
    state.socket = socket;
    var noticeTimer = null;
    socket.on("connect", function () {
      clearTimeout(noticeTimer);
      ui.notice.hidden = true;
      state.confirmed = false;
      socket.emit("session_request", { session_id: state.sessionId });
    });
    socket.on("session_confirm", function (id) {
      var confirmed = typeof id === "string" ? id : id && id.session_id;
      if (confirmed && confirmed !== state.sessionId) {
        state.sessionId = confirmed;
        save("session", confirmed);
      }
      state.confirmed = true;
      flush();
      if (state.lostAt) { catchUp(Date.now() - state.lostAt); state.lostAt = 0; }
    });
    socket.on("bot_uttered", onBotMessage);
    socket.on("disconnect", function () {
      state.confirmed = false;
      if (!state.lostAt) state.lostAt = Date.now();
      clearTimeout(noticeTimer);
      noticeTimer = setTimeout(function () { ui.notice.hidden = false; }, 1500);
    });
    socket.on("connect_error", function () {
      clearTimeout(noticeTimer);
      noticeTimer = setTimeout(function () { ui.notice.hidden = false; }, 1500);
    });
  }

  var clientLoading = false;
  function loadClient() {
    if (clientLoading) return;
    clientLoading = true;
    var s = document.createElement("script");
    s.src = CONFIG.base + "vendor/socket.io.min.js";
    s.async = true;
    s.onload = function () { connect(); };
    s.onerror = function () { clientLoading = false; ui.notice.hidden = false; };
    document.head.appendChild(s);
  }

  function loadCss() {
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = CONFIG.base + "saathi.css";
    document.head.appendChild(link);
  }

  function start() {
    loadCss();
    build();
    applyLabels();
    renderAll();
    var wasOpen = false;
    try { wasOpen = sessionStorage.getItem(prefix + "open") === "1"; } catch (e) { /* private mode */ }
    // A returning shopper reconnects at once so an agent's messages arrive while they browse.
    if (state.sessionId) {
      connect();
      var last = state.messages.length ? state.messages[state.messages.length - 1].ts : 0;
      if (last) catchUp(Date.now() - last); else checkStatus();
    }
    if (wasOpen) openPanel();
    window.SaathiWidget = { open: openPanel, close: closePanel, sessionId: function () { return state.sessionId; } };
  }

  window.SaathiWidget = { open: function () {}, close: function () {} };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
