// The page: ask (streamed from /api/stream), render the checked answer with citation chips, and
// show a cited sentence highlighted in its article (offsets from the answer's citations index the
// document's cleaned text from /api/documents/{id}). No build step, no dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { history: [], documents: new Map(), lastChip: null };

function authHeaders() {
  const key = sessionStorage.getItem("assistant-key");
  return key ? { Authorization: "Bearer " + key } : {};
}

async function call(path, options = {}, retried = false) {
  const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), ...authHeaders() } });
  if (response.status === 401 && !retried) {
    const key = window.prompt("This server needs an API key:");
    if (key) {
      sessionStorage.setItem("assistant-key", key.trim());
      return call(path, options, true);
    }
  }
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error.message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

// -- the article beside the answer ----------------------------------------------------------------
async function documentById(id) {
  if (!state.documents.has(id)) {
    const response = await call("/api/documents/" + encodeURIComponent(id));
    state.documents.set(id, await response.json());
  }
  return state.documents.get(id);
}

// The page of a PDF or Word file that holds character `offset` (0: the document has no pages).
function pageOf(doc, offset) {
  const pages = doc.pages || [];
  let page = 0;
  while (page < pages.length && pages[page] <= offset) page += 1;
  return pages.length ? Math.max(page, 1) : 0;
}

async function openArticle(docId, start, end, opener) {
  const doc = await documentById(docId);
  const panel = $("article");
  const page = pageOf(doc, start);
  $("article-title").textContent = doc.title || doc.id;
  $("article-date").textContent = [doc.date, page ? `page ${page} of ${doc.pages.length}` : ""].filter(Boolean).join(" · ");
  $("article-source").textContent = doc.source ? "· " + doc.source : "";
  const link = $("article-link");
  link.hidden = !doc.url;
  if (doc.url) { link.href = doc.url; link.textContent = "original ↗"; }
  const text = $("article-text");
  const mark = el("mark", { id: "highlight" }, doc.text.slice(start, end));
  text.replaceChildren(doc.text.slice(0, start), mark, doc.text.slice(end));
  panel.hidden = false;
  $("layout").classList.add("with-article");
  document.querySelectorAll(".chip.active").forEach((c) => c.classList.remove("active"));
  if (opener) { opener.classList.add("active"); state.lastChip = opener; }
  // The article scrolls inside its panel; on a phone the page first scrolls to the panel.
  if (window.matchMedia("(max-width: 800px)").matches) panel.scrollIntoView({ block: "start" });
  else if (panel.getBoundingClientRect().top < 0) panel.scrollIntoView({ block: "start" });
  text.scrollTop += mark.getBoundingClientRect().top - text.getBoundingClientRect().top - text.clientHeight / 3;
  $("article-title").focus({ preventScroll: true });
}

function closeArticle() {
  $("article").hidden = true;
  $("layout").classList.remove("with-article");
  if (state.lastChip) state.lastChip.focus();
}

// -- an answer ------------------------------------------------------------------------------------
function chip(citation) {
  const weak = citation.supported === false;
  const page = citation.page ? `, page ${citation.page}` : "";
  const label = `Citation ${citation.n}: ${citation.title || citation.doc_id}${page}${weak ? " (weak support)" : ""}`;
  const button = el("button", {
    type: "button", class: "chip" + (weak ? " weak" : ""), "data-n": String(citation.n),
    "aria-label": label, title: (weak ? "Weak support. " : "") + "“" + citation.quote + "”",
  }, String(citation.n));
  button.addEventListener("click", () => openArticle(citation.doc_id, citation.start, citation.end, button).catch(showError));
  return button;
}

function renderAnswer(turn, answer) {
  const byN = new Map(answer.citations.map((c) => [c.n, c]));
  const box = turn.querySelector(".answer");
  box.classList.remove("streaming");
  box.classList.toggle("refused", answer.refused);
  const parts = [];
  let last = 0;
  for (const m of answer.answer.matchAll(/\[(\d+)\]/g)) {
    const citation = byN.get(Number(m[1]));
    if (!citation) continue;
    parts.push(answer.answer.slice(last, m.index), chip(citation));
    last = m.index + m[0].length;
  }
  parts.push(answer.answer.slice(last));
  box.replaceChildren(...parts);

  const sources = turn.querySelector(".sources");
  sources.replaceChildren(...answer.citations.map((c) => el("li", {},
    chip(c), " ", el("strong", {}, c.title || c.doc_id), " ", c.page ? el("span", { class: "page" }, `page ${c.page} `) : "",
    c.supported === false ? el("span", { class: "weak-label" }, "(weak support) ") : "",
    el("span", { class: "quote" }, "“" + c.quote + "”"))));

  const notes = [];
  if (answer.removed_claims && answer.removed_claims.length)
    notes.push("Removed sentences stating figures or names no passage contains: " + answer.removed_claims.join(" / "));
  if (answer.withheld) notes.push("Withheld the model's answer " + answer.withheld);
  if (answer.dropped_citations && answer.dropped_citations.length)
    notes.push("Removed citations to passages the model was not shown: " + answer.dropped_citations.join(", "));
  if (answer.recited && answer.recited.length)
    notes.push("Moved citations to the passage the sentence was copied from: " + answer.recited.map(([a, b]) => `[${a}] → [${b}]`).join(", "));
  if (answer.omitted_passages && answer.omitted_passages.length)
    notes.push("Left out to fit the model's context window: " + answer.omitted_passages.join(", "));
  if (answer.query && answer.query !== answer.question) notes.push("Searched for: " + answer.query);
  turn.querySelector(".notes").replaceChildren(...notes.map((n) => el("li", {}, n)));

  const passages = turn.querySelector(".passages");
  passages.replaceChildren(...answer.passages.map((p) => {
    const button = el("button", { type: "button" }, `${p.title || p.doc_id}${p.date ? " — " + p.date : ""}`);
    button.addEventListener("click", () => openArticle(p.doc_id, p.start, p.end, button).catch(showError));
    return el("li", {}, button, " ", el("span", { class: "score" }, `${p.chunk_id} · score ${p.score.toFixed(4)}`));
  }));
  turn.querySelector(".passages-box summary").textContent = `Passages searched (${answer.passages.length})`;
  const seconds = ((answer.timings_ms && answer.timings_ms.total) || 0) / 1000;
  const by = answer.llm === "extractive" ? "extractive: sentences quoted from the passages, no language model" : answer.llm;
  turn.querySelector(".footer").textContent = `answered by ${by} in ${seconds.toFixed(1)} s`;
  turn.dataset.state = "done";
}

function showError(error, turn) {
  const where = turn ? turn.querySelector(".answer") : $("conversation");
  const p = el("p", { class: "error", role: "alert" }, "Error: " + (error.message || error));
  if (turn) { where.classList.remove("streaming"); where.replaceChildren(p); turn.dataset.state = "error"; }
  else where.prepend(p);
}

// While the answer is made: a spinner, what is happening (from the server's stage events) and the
// seconds since the question, ticking; the answer takes its place.
function working(box) {
  const started = performance.now();
  const stage = el("span", { class: "stage", role: "status" }, "searching");
  const elapsed = el("span", { class: "elapsed", "aria-hidden": "true" }, "0.0 s");
  box.replaceChildren(el("p", { class: "working" }, el("span", { class: "spinner", "aria-hidden": "true" }), stage, " · ", elapsed));
  const tick = () => { elapsed.textContent = ((performance.now() - started) / 1000).toFixed(1) + " s"; };
  const timer = setInterval(tick, 100);
  return {
    show(text) { stage.textContent = text; tick(); },
    stop() { clearInterval(timer); },
  };
}

async function ask(question) {
  const turn = $("turn-template").content.firstElementChild.cloneNode(true);
  turn.querySelector(".turn-question").textContent = question;
  turn.dataset.state = "streaming";
  $("conversation").prepend(turn);
  const box = turn.querySelector(".answer");
  const status = working(box);
  try { await streamAnswer(turn, box, question, status); } finally { status.stop(); }
}

async function streamAnswer(turn, box, question, status) {
  const response = await call("/api/stream", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ question, history: state.history.slice(-6) }),
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "", streamed = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (!data) continue;
      const event = JSON.parse(data);
      if (event.type === "stage") { if (!streamed) status.show(event.text); }
      else if (event.type === "text") { status.stop(); streamed += event.text; box.textContent = streamed; }
      else if (event.type === "answer") {
        status.stop();
        renderAnswer(turn, event.answer);
        state.history.push([event.answer.query || question, event.answer.answer]);
      } else if (event.type === "error") throw new Error(event.message);
    }
  }
  if (turn.dataset.state !== "done") throw new Error("the answer was cut off");
}

function init() {
  const form = $("ask-form"), input = $("question"), button = $("ask-button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question || button.disabled) return;
    button.disabled = true;
    try { await ask(question); input.value = ""; }
    catch (error) { showError(error, document.querySelector("#conversation .turn")); }
    finally { button.disabled = false; input.focus(); }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); form.requestSubmit(); }
  });
  $("article-close").addEventListener("click", closeArticle);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("article").hidden) closeArticle();
  });
  $("clear-button").addEventListener("click", () => {
    state.history = [];
    $("conversation").replaceChildren();
    closeArticle();
    input.focus();
  });
  call("/healthz").then((r) => r.json()).then((h) => {
    $("status").textContent = `${h.documents} articles · ${h.passages} passages · answers by ${h.llm}`;
  }).catch((e) => { $("status").textContent = "server not reachable: " + e.message; });
}

init();
