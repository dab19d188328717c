// The web chat page: vanilla JS, no build step. Every user-visible sentence comes from /api/ui.
// Text is only ever set with textContent / text nodes (never innerHTML), so nothing is interpreted: the
// little Markdown an answer uses (paragraphs, lists, **bold**, [links](https://...)) is built as elements.
//
// Delivery is exactly once and in order: the page shows messages by their stored id (ids of a conversation
// are given in commit order) and asks the server for everything after the cursor the server last gave it;
// what a send streams back is merged by id, so nothing is shown twice and nothing is skipped.
// The session is the server's HttpOnly cookie: this script never sees or sends a session id.
// While an answer streams, the send button stops it: the page stops showing it at once and asks the server
// (POST /api/chat/stop) to stop writing it; the stream then ends with the part written, stored as stopped.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 3000;
  const S = {
    lang: read("qdbot.lang") === "en" ? "en" : "zh", t: {}, maxChars: 2000,
    floor: Number(read("qdbot.floor") || 0),
    msgs: new Map(), cursor: 0, busy: false, polling: null, outbox: [], opener: null,
    streaming: null,  // while an answer streams: { pending, abort, stopping }; the send button is a stop button
  };

  function read(key) { try { return localStorage.getItem(key); } catch { return null; } }
  function write(key, value) { try { localStorage.setItem(key, String(value)); } catch { /* private mode */ } }

  function t(key, fields = {}) {
    return String(S.t[key] ?? key).replace(/\{(\w+)\}/g, (m, k) => (k in fields ? fields[k] : m));
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
    return node;
  }

  // ---------------------------------------------------------------- UI sentences

  async function loadUi(lang) {
    const res = await fetch(`/api/ui?lang=${lang}`);
    const data = await res.json();
    S.lang = data.lang; S.t = data.strings; S.maxChars = data.max_chars;
    write("qdbot.lang", S.lang);
    applyUi();
  }

  function applyUi() {
    document.documentElement.lang = S.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-t]").forEach((n) => { n.textContent = t(n.dataset.t); });
    document.querySelectorAll("[data-t-placeholder]").forEach((n) => { n.placeholder = t(n.dataset.tPlaceholder); });
    document.querySelectorAll("[data-t-aria-label]").forEach((n) => n.setAttribute("aria-label", t(n.dataset.tAriaLabel)));
    $("lang-switch").lang = S.lang === "zh" ? "en" : "zh-CN";
    $("input").maxLength = S.maxChars;
    $("examples").replaceChildren(...(S.t.examples || []).map((q) =>
      el("button", { type: "button", class: "chip", onclick: () => send(q) }, q)));
    for (const msg of S.msgs.values()) redraw(msg);
    setBusy(S.busy);  // the send / stop button in the new language
  }

  // ---------------------------------------------------------------- messages

  function displayText(msg) {
    const cmd = msg.role === "user" && msg.text.trim().toLowerCase();
    return cmd === "/human" ? t("human") : cmd === "/new" ? t("new_chat") : cmd === "/cancel" ? t("cancel_ticket")
      : cmd === "/subscribe" ? t("subscribe") : msg.text;
  }

  // Inline: [n] citations, **bold**, [text](http(s) link); everything else stays text.
  function inline(text, byN) {
    const out = [];
    text.split(/(\[\d{1,2}\]|\*\*[^*\n]+\*\*|\[[^\]\n]{1,200}\]\(https?:\/\/[^\s)]+\))/).forEach((part) => {
      const cite = /^\[(\d{1,2})\]$/.exec(part);
      const link = /^\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)$/.exec(part);
      if (cite && byN.get(cite[1])) out.push(citeButton(byN.get(cite[1]), cite[1], "cite"));
      else if (/^\*\*[^*]+\*\*$/.test(part)) out.push(el("strong", {}, part.slice(2, -2)));
      else if (link) out.push(el("a", { href: link[2], target: "_blank", rel: "noopener noreferrer nofollow" }, link[1]));
      else if (part) out.push(part);
    });
    return out;
  }

  // Blocks: paragraphs split by blank lines (a single newline is a line break), "- " / "1. " lists.
  function answerText(msg) {
    const byN = new Map((msg.sources || []).map((s) => [String(s.n), s]));
    const out = el("div", { class: msg.role === "user" ? "text plain" : "text rich" });
    if (msg.role === "user") { out.textContent = displayText(msg); return out; }
    let list = null, para = null;
    for (const line of displayText(msg).split("\n")) {
      const item = /^\s*(?:[-*•]|(\d{1,2})[.、)])\s+(.*)$/.exec(line);
      if (item) {
        const tag = item[1] ? "ol" : "ul";
        if (!list || list.tagName.toLowerCase() !== tag) {
          list = el(tag, item[1] && item[1] !== "1" ? { start: item[1] } : {}); out.append(list);
        }
        list.append(el("li", {}, ...inline(item[2], byN)));
        para = null;
      } else if (!line.trim()) {
        list = null; para = null;
      } else {
        list = null;
        if (para) para.append(el("br")); else { para = el("p"); out.append(para); }
        para.append(...inline(line, byN));
      }
    }
    return out;
  }

  function citeButton(source, label, cls) {
    return el("button", { type: "button", class: cls, "aria-label": t("citation_label", { n: source.n }),
      "aria-haspopup": "dialog", onclick: (e) => openSource(source, e.currentTarget) }, label);
  }

  function sourcesList(msg) {
    if (!msg.sources || !msg.sources.length) return null;
    return el("div", { class: "sources" }, el("h3", {}, t("sources")),
      el("ol", {}, ...msg.sources.map((s) => el("li", {},
        citeButton(s, `[${s.n}] ${s.title}${s.section ? " · " + s.section : ""}`, "source-link")))));
  }

  // A thumb drawn in SVG (👍/👎 need an emoji font, which not every device has).
  const THUMB = "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 " +
    "7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z";

  function thumb(down) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", down ? "thumb down" : "thumb");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", THUMB);
    svg.append(path);
    return svg;
  }

  function feedbackBar(msg) {
    const button = (value, key) => el("button", {
      type: "button", class: "fb", "aria-pressed": String(msg.feedback === value),
      onclick: () => sendFeedback(msg, msg.feedback === value ? null : value),
    }, thumb(value === "down"), t(key));
    return el("div", { class: "feedback" }, button("up", "feedback_up"), button("down", "feedback_down"),
      el("button", { type: "button", class: "fb copy", onclick: () => copy(msg) }, t("copy")),
      el("span", { class: "fb-status", "aria-live": "polite" }, msg.fbStatus || ""));
  }

  // Follow-up questions from the sections the answer cites (at most three, the newest answer only).
  function followUps(msg) {
    const seen = new Set();
    for (const s of msg.sources || []) {
      const tail = String(s.section || "").split(">").pop().trim().replace(/^[一二三四五六七八九十]+[、是]\s*|^（[一二三四五六七八九十]+）\s*/, "");
      if (tail && tail.length <= 40) seen.add(tail);
    }
    const asks = [...seen].slice(0, 3).map((topic) => t("follow_up_question", { topic }));
    if (!asks.length) return null;
    return el("div", { class: "quick follow-ups" }, el("span", { class: "follow-label" }, t("follow_ups")),
      ...asks.map((q) => el("button", { type: "button", class: "quick-reply", onclick: () => send(q) }, q)));
  }

  async function copy(msg) {
    try { await navigator.clipboard.writeText(msg.text); update(msg, { fbStatus: t("copied") }); }
    catch { /* no clipboard permission: nothing to do */ }
  }

  // Quick replies (intake choices, skip, cancel, rating stars): only the newest message shows them (CSS).
  function quickReplies(msg) {
    if (!msg.buttons || !msg.buttons.length || msg.pending) return null;
    return el("div", { class: "quick" }, ...msg.buttons.map((b) => el("button", {
      type: "button", class: b.action.startsWith("rate:") ? "quick-reply star" : "quick-reply",
      onclick: () => press(b),
    }, b.label)));
  }

  async function press(button) {
    if (button.action.startsWith("say:")) return send(button.action.slice(4));
    try { await post("/api/button", { action: button.action }); }
    catch (err) { showError(err instanceof TypeError ? t("error_network") : err.message); }
    return poll();
  }

  function bubble(msg) {
    const isAnswer = msg.role === "assistant";
    const cls = `msg ${msg.role}${msg.no_answer ? " no-answer" : ""}${msg.pending ? " pending" : ""}${msg.stopped ? " stopped" : ""}`;
    const whole = isAnswer && !msg.pending && !msg.no_answer && !msg.stopped;
    const who = msg.role === "user" ? "you" : msg.role === "system" ? "assistant" : msg.role;
    return el("li", { class: cls, "data-id": msg.id ?? "", "aria-busy": msg.pending ? "true" : null },
      el("div", { class: msg.role === "user" ? "who visually-hidden" : "who" }, t(who)),
      msg.no_answer ? el("div", { class: "badge" }, t("no_answer_label")) : null,
      msg.pending && !msg.text ? el("div", { class: "text thinking" }, t("thinking")) : answerText(msg),
      msg.stopped ? el("div", { class: "stopped-label" }, t("stopped")) : null,
      isAnswer && !msg.pending ? sourcesList(msg) : null,
      whole && msg.id ? feedbackBar(msg) : null,
      whole ? followUps(msg) : null,
      isAnswer && msg.no_answer ? el("button", { type: "button", class: "secondary", onclick: () => send("/human") }, t("human")) : null,
      quickReplies(msg));
  }

  function redraw(msg) {
    const node = bubble(msg);
    if (msg.node) msg.node.replaceWith(node);
    msg.node = node;
    return node;
  }

  // In id order; bubbles not stored yet (the message being sent, the answer being written) stay last.
  function place(msg) {
    const list = $("messages");
    if (msg.id) {
      for (const node of list.children) {
        const id = Number(node.dataset.id || 0);
        if (node !== msg.node && (!id || id > msg.id)) { list.insertBefore(msg.node, node); return; }
      }
    }
    list.append(msg.node);
  }

  function add(msg) {
    if (msg.id && S.msgs.has(msg.id)) return S.msgs.get(msg.id);  // heard twice (stream and history): shown once
    if (msg.id && msg.role === "user") {
      if (msg.text.trim().toLowerCase() === "/new") return msg;  // a new chat is the top of the page, not a bubble
      const mine = S.outbox.find((m) => !m.id && m.text === msg.text);  // our own message, stored meanwhile
      if (mine) return adopt(mine, msg.id);
    }
    if (msg.id) S.msgs.set(msg.id, msg);
    redraw(msg);
    place(msg);
    $("welcome").hidden = true;
    scrollDown();
    return msg;
  }

  function adopt(local, id) {
    local.id = id;
    S.msgs.set(id, local);
    redraw(local);
    place(local);
    return local;
  }

  function update(msg, fields) { Object.assign(msg, fields); redraw(msg); }

  function streamInto(msg, text) {  // in place, so screen readers announce the finished answer once
    const node = msg.node.querySelector(".text");
    msg.text = text;
    node.classList.remove("thinking");
    node.textContent = text;
    scrollDown();
  }

  function scrollDown() { const s = $("scroller"); s.scrollTop = s.scrollHeight; }

  function clearView() {
    S.msgs.clear();
    $("messages").replaceChildren();
    $("welcome").hidden = false;
  }

  function banner(ticket) {
    const shown = !$("ticket-banner").hidden;
    $("ticket-banner").hidden = !ticket;
    if (shown !== Boolean(ticket)) scrollDown();  // the banner took or gave back room: keep the newest in view
    $("human").hidden = Boolean(ticket);  // already asked for: the banner offers to cancel instead
    if (!ticket) return;
    const key = ticket.state === "waiting" && ticket.unstaffed ? "ticket_banner_waiting_unstaffed" : `ticket_banner_${ticket.state}`;
    $("ticket-banner-text").textContent = t(key, { id: ticket.id });
    $("ticket-banner").dataset.state = ticket.state;
  }

  // ---------------------------------------------------------------- talking to the server

  async function post(url, body, options = {}) {
    const res = await fetch(`${url}?lang=${S.lang}`, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body), ...options });
    if (!res.ok) {
      const err = await res.json().catch(() => ({}));
      throw new Error(err.error || t("error_server"));
    }
    return res;
  }

  async function readEvents(res, onEvent) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(t("error_network"));
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        const name = (block.match(/^event: (.*)$/m) || [])[1];
        const data = (block.match(/^data: (.*)$/m) || [])[1];
        if (!name || data === undefined) continue;  // a keep-alive comment
        const payload = JSON.parse(data);
        if (name === "error") throw new Error(payload.error || t("error_server"));
        if (name === "done") return payload;
        onEvent(name, payload);
      }
    }
  }

  function fromReply(r) { return { id: r.message_id, role: r.role, text: r.text, sources: r.sources, buttons: r.buttons }; }

  async function send(text, { silent = false } = {}) {
    if (S.busy || !text.trim()) return false;
    setBusy(true); showError("");
    const user = silent ? null : add({ id: null, role: "user", text });
    if (user) S.outbox.push(user);
    const pending = add({ id: null, role: "assistant", text: "", pending: true });
    const body = { text };
    if (text.startsWith("/")) body.lang = S.lang;  // questions: the engine follows the question's language
    const stream = S.streaming = { pending, abort: new AbortController(), stopping: false };
    setBusy(true);
    try {
      const res = await post("/api/chat/stream", body, { signal: stream.abort.signal });
      const done = await readEvents(res, (name, data) => {
        if (name === "delta" && pending.node.isConnected && !stream.stopping) streamInto(pending, data.text);
        if (name === "reply") add(fromReply(data));
        if (name === "reply" && data.role === "assistant") pending.node.remove();
      });
      finish(done, user, pending);
      return done;
    } catch (err) {
      if (stream.stopping) { pending.node.remove(); return false; }  // stopped here: the stored part comes by poll
      for (const m of [user, pending]) if (m && m.node && !m.id) m.node.remove();
      if (!silent && !$("input").value && !(user && user.id)) { $("input").value = text; resize(); }
      showError(err instanceof TypeError ? t("error_network") : err.message);
      return false;
    } finally {
      S.outbox = S.outbox.filter((m) => m !== user);
      S.streaming = null;
      setBusy(false);
      poll();  // whatever was pushed meanwhile (a manager's reply on another worker), and the banner
    }
  }

  function finish(done, user, pending) {
    if (user && !user.id && done.question_id) {
      if (S.msgs.has(done.question_id)) user.node.remove(); else adopt(user, done.question_id);
    }
    if (pending.node.isConnected) pending.node.remove();
    if (!done.message_id) return;
    const main = S.msgs.get(done.message_id) || add({ id: done.message_id, role: done.sources.length || done.no_answer ? "assistant" : "system",
      text: done.answer, sources: done.sources });
    update(main, { no_answer: done.no_answer, handoff: done.handoff, stopped: done.stopped });
  }

  // The stop button: the page shows no more of the answer at once; the server stops writing it and the
  // stream ends with the stored part. Should the server not answer, the stream is dropped here.
  async function stopAnswer() {
    const stream = S.streaming;
    if (!stream || stream.stopping) return;
    stream.stopping = true;
    stream.pending.node.setAttribute("aria-busy", "false");
    setBusy(true);
    try { await post("/api/chat/stop", {}); }
    catch { stream.abort.abort(); }
  }

  async function sendFeedback(msg, value) {
    try {
      await post("/api/feedback", { message_id: msg.id, value });
      update(msg, { feedback: value, fbStatus: value ? t("feedback_saved") : "" });
    } catch {
      update(msg, { fbStatus: t("feedback_failed") });
    }
  }

  // Everything after the server's cursor, page by page; one poll at a time (a second caller waits for it,
  // then polls again, so a send that ends during a poll still gets a fresh look).
  function poll() {
    if (document.visibilityState !== "visible") return Promise.resolve();
    const run = async () => {
      try {
        for (;;) {
          const res = await fetch(`/api/chat/history?after=${Math.max(S.cursor, S.floor)}`);
          if (!res.ok) return;
          const data = await res.json();
          for (const m of data.messages) add(m);
          S.cursor = Math.max(S.cursor, data.cursor);
          banner(data.ticket);
          if (!data.more) return;
        }
      } catch { /* offline: the next poll tries again */ }
    };
    S.polling = (S.polling || Promise.resolve()).then(run);
    return S.polling;
  }

  // ---------------------------------------------------------------- composer, dialog, buttons

  function setBusy(busy) {
    S.busy = busy;
    const stream = S.streaming, send = $("send");
    send.classList.toggle("stop", Boolean(stream));
    send.textContent = t(stream ? (stream.stopping ? "stopping" : "stop") : "send");
    send.setAttribute("aria-label", t(stream ? "stop_label" : "send"));
    send.disabled = stream ? stream.stopping : busy || !$("input").value.trim();
    $("human").disabled = busy;
    $("new-chat").disabled = busy;
  }

  function showError(text) { $("error").textContent = text; $("error").hidden = !text; }

  function resize() {
    const input = $("input");
    input.style.height = "";
    if (input.value) input.style.height = `${Math.min(input.scrollHeight + 2, 160)}px`;
    if (!S.streaming) $("send").disabled = S.busy || !input.value.trim();
  }

  function submit() {
    const input = $("input");
    const text = input.value;
    if (S.busy || !text.trim()) return;
    input.value = ""; resize();
    send(text);
  }

  function openSource(source, opener) {
    S.opener = opener;
    $("source-title").textContent = source.title || "";
    $("source-section").textContent = source.section || "—";
    $("source-file").textContent = source.source || "—";
    $("source-text").textContent = source.text || "";
    $("source-dialog").showModal();
    $("source-close").focus();
  }

  async function newChat() {
    if (S.busy) return;
    clearView();
    const done = await send("/new", { silent: true });
    if (done && done.question_id) { S.floor = done.question_id; write("qdbot.floor", S.floor); }
    await poll();
  }

  function wire() {
    $("form").addEventListener("submit", (e) => { e.preventDefault(); if (S.streaming) stopAnswer(); else submit(); });
    $("input").addEventListener("input", resize);
    $("input").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submit(); }
    });
    $("human").addEventListener("click", () => send("/human"));
    $("subscribe").addEventListener("click", () => send("/subscribe"));  // policy notices, shown on the next visit
    $("ticket-cancel").addEventListener("click", () => send("/cancel"));
    $("new-chat").addEventListener("click", newChat);
    $("lang-switch").addEventListener("click", () => loadUi(S.lang === "zh" ? "en" : "zh").catch(() => showError(t("error_network"))));
    const dialog = $("source-dialog");
    $("source-close").addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
    dialog.addEventListener("close", () => { if (S.opener && S.opener.isConnected) S.opener.focus(); });
  }

  async function main() {
    try { localStorage.removeItem("qdbot.session"); } catch { /* private mode */ }  // from before the cookie
    wire();
    try { await loadUi(S.lang); } catch { showError("Network error / 网络错误"); }
    await poll();
    setInterval(poll, POLL_MS);
    if (matchMedia("(pointer: fine)").matches) $("input").focus();  // no keyboard popping up on phones
  }

  main();
})();
