// The sync console's page: plain DOM code, no framework, no build step.
// Every value from the server is put on the page as text (textContent), never as HTML; the
// search API's highlights are the one exception, rebuilt from their <em> marks only.
"use strict";

const SYNC_DEADLINE_MS = 30000; // a change not searchable after this is reported as such
const SYNC_POLL_MS = 100;
const HEALTH_EVERY_MS = 5000;

const $ = (selector) => document.querySelector(selector);
const el = (tag, text, cls) => {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pretty = (value) => (value === null || value === undefined ? "–" : JSON.stringify(value, null, 2));

// --- the console's JSON API ------------------------------------------------------------------

class NotReady extends Error {}

async function call(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    showProblem("The console itself does not answer (stopped?).", "make up");
    throw new NotReady(String(error));
  }
  const data = await response.json();
  if (response.status === 503 || response.status === 502) {
    showProblem(data.problem, data.fix);
    throw new NotReady(data.problem);
  }
  if (!response.ok) throw new Error(data.problem || `HTTP ${response.status}`);
  return data;
}

// The REST API's answer as forwarded: {status, body, elapsed_ms}.
const api = (method, path, body) => call(method, `/api/books${path}`, body);

function apiMessage(answer) {
  const body = answer.body;
  const message = String((body && typeof body === "object" ? body.message : body) ?? "").slice(0, 200);
  return `the API answered ${answer.status}${message ? `: ${message}` : ""}`;
}

// --- the banner: stack down or nothing deployed ------------------------------------------------

function showProblem(problem, fix) {
  $("#banner-problem").textContent = problem;
  $("#banner-fix").textContent = fix || "make status";
  $("#banner").hidden = false;
}

function clearProblem() {
  $("#banner").hidden = true;
}

// --- health ------------------------------------------------------------------------------------

let wasReady = false;

async function refreshHealth() {
  let report;
  try {
    report = await call("GET", "/api/health");
  } catch (error) {
    wasReady = false;
    return;
  }
  const rows = [...report.services, ...report.deployed].map((part) => {
    const tr = el("tr");
    tr.append(el("th", part.name), el("td", part.up ? "up" : "down", part.up ? "ok" : "bad"));
    tr.firstChild.setAttribute("scope", "row");
    tr.append(el("td", part.version ?? ""), el("td", part.detail ?? ""));
    return tr;
  });
  $("#health tbody").replaceChildren(...rows);
  if (report.problem) {
    showProblem(report.problem, report.fix);
    wasReady = false;
  } else {
    clearProblem();
    if (!wasReady) {
      wasReady = true;
      loadBooks();
      loadDeadLetters();
    }
  }
}

// --- books: list and form ----------------------------------------------------------------------

let nextToken = null;

async function loadBooks(more = false) {
  const query = more && nextToken ? `?limit=50&next_token=${encodeURIComponent(nextToken)}` : "?limit=50";
  const answer = await api("GET", query);
  // Not a page of books: an error, or a body the list's template could not render as JSON
  // (an item written beside the API that lacks a field the template expects).
  if (answer.status !== 200 || !Array.isArray(answer.body?.items)) {
    $("#books-message").textContent = `Listing books failed: ${apiMessage(answer)}`;
    return;
  }
  $("#books-message").textContent = "";
  const rows = answer.body.items.map(bookRow);
  if (more) $("#books tbody").append(...rows);
  else $("#books tbody").replaceChildren(...rows);
  nextToken = answer.body.next_token;
  $("#more-books").hidden = !nextToken;
}

function bookRow(book) {
  const tr = el("tr");
  tr.dataset.bookId = book.book_id;
  tr.append(el("td", book.title), el("td", book.author), el("td", book.year ?? ""));
  const actions = el("td", undefined, "actions");
  const view = el("button", "View");
  view.type = "button";
  view.setAttribute("aria-label", `View ${book.title}`);
  view.addEventListener("click", () => showSides(book.book_id));
  const edit = el("button", "Edit");
  edit.type = "button";
  edit.setAttribute("aria-label", `Edit ${book.title}`);
  edit.addEventListener("click", () => startEdit(book.book_id));
  actions.append(view, edit);
  tr.append(actions);
  return tr;
}

function formBook() {
  const book = { title: $("#title").value, author: $("#author").value };
  const year = $("#year").value.trim();
  if (year !== "") book.year = Number(year);
  const isbn = $("#isbn").value.trim();
  if (isbn !== "") book.isbn = isbn;
  const tags = $("#tags").value.split(",").map((t) => t.trim()).filter((t) => t !== "");
  if (tags.length) book.tags = tags;
  const summary = $("#summary").value.trim();
  if (summary !== "") book.summary = summary;
  return book;
}

async function startEdit(bookId) {
  const answer = await api("GET", `/${encodeURIComponent(bookId)}`);
  if (answer.status !== 200) {
    $("#form-message").textContent = `Cannot edit: ${apiMessage(answer)}`;
    return;
  }
  const book = answer.body;
  $("#book-id").value = book.book_id;
  $("#title").value = book.title;
  $("#author").value = book.author;
  $("#year").value = book.year ?? "";
  $("#isbn").value = book.isbn ?? "";
  $("#tags").value = (book.tags || []).join(", ");
  $("#summary").value = book.summary ?? "";
  $("#form-legend").textContent = `Edit ${book.book_id}`;
  $("#save").textContent = "Save";
  $("#cancel-edit").hidden = false;
  $("#title").focus();
}

function resetForm() {
  $("#book-form").reset();
  $("#book-id").value = "";
  $("#form-legend").textContent = "New book";
  $("#save").textContent = "Create";
  $("#cancel-edit").hidden = true;
}

async function saveBook(event) {
  event.preventDefault();
  const book = formBook();
  const bookId = $("#book-id").value;
  const result = bookId ? await write("update", bookId, book.title, "PUT", book) : await write("create", null, book.title, "POST", book);
  if (result) {
    resetForm();
    loadBooks();
  }
}

async function deleteBook(bookId, title) {
  if (!window.confirm(`Delete “${title}”?`)) return;
  if (await write("delete", bookId, title, "DELETE")) loadBooks();
}

// --- a write and what the page saw of it: the live feed ---------------------------------------

// Three times per write, from the moment the page sent it: "answered" (the REST API answered:
// DynamoDB has the item), "stored" (a real-time GET of the document by id shows the write) and
// "searchable" (a search through the index alias shows it, after the index's next refresh).
async function write(kind, bookId, title, method, body) {
  const entry = feedEntry(kind, title);
  const path = bookId ? `/${encodeURIComponent(bookId)}` : "";
  // What the index held before an update or delete: the write shows once the document moves
  // past it (a create's id is new, so any document that shows the item is this write's).
  const before = bookId ? await call("GET", `/api/indexed/${encodeURIComponent(bookId)}`) : null;
  const began = performance.now();
  const answer = await api(method, path, body);
  const expected = { create: 201, update: 200, delete: 200 }[kind];
  if (answer.status !== expected) {
    entry.answered.textContent = apiMessage(answer);
    entry.answered.className = "bad";
    entry.stored.textContent = entry.searchable.textContent = "–";
    $("#form-message").textContent = `${kind} failed: ${apiMessage(answer)}`;
    return false;
  }
  const id = bookId || answer.body.book_id;
  entry.book.textContent = `${title} (${id})`;
  entry.answered.textContent = seconds(performance.now() - began);
  $("#form-message").textContent = `${kind}d ${title}: answered, waiting until stored in the index …`;
  showSides(id);
  followTheWrite(id, title, kind, before, began, entry);
  return true;
}

function feedEntry(kind, title) {
  const tr = el("tr");
  const at = new Date().toLocaleTimeString();
  const book = el("td", title);
  const [answered, stored, searchable] = [el("td", "…"), el("td", "…"), el("td", "…")];
  tr.append(el("td", at), el("td", kind), book, answered, stored, searchable);
  $("#feed tbody").prepend(tr);
  return { row: tr, book, answered, stored, searchable };
}

async function followTheWrite(bookId, title, kind, before, began, entry) {
  const id = encodeURIComponent(bookId);
  const query = before ? `?${new URLSearchParams({ before_seq: before.seq ?? "", before_item: before.item ?? "" })}` : "";
  const stored = await pollUntil(`/api/indexed/${id}${query}`, (v) => v.stored, began, entry.stored);
  if (!stored) return;
  entry.row.dataset.stored = "yes";
  $("#form-message").textContent = `${kind}d ${title}: stored in the index, waiting until searchable …`;
  const sides = await pollUntil(`/api/sides/${id}${query}`, (v) => v.in_sync, began, entry.searchable);
  if (!sides) return;
  entry.row.dataset.searchable = "yes";
  $("#form-message").textContent = `${kind}d ${title}: searchable`;
  if (currentBook === bookId) renderSides(sides);
}

// Polls `path` until `done(answer)`; puts the time since `began` (or why not) in `cell`.
async function pollUntil(path, done, began, cell) {
  while (performance.now() - began < SYNC_DEADLINE_MS) {
    let answer;
    try {
      answer = await call("GET", path);
    } catch (error) {
      cell.textContent = "stack stopped answering";
      return null;
    }
    if (done(answer)) {
      cell.textContent = seconds(performance.now() - began);
      cell.className = "ok";
      return answer;
    }
    await sleep(SYNC_POLL_MS);
  }
  cell.textContent = `not after ${SYNC_DEADLINE_MS / 1000} s (see the dead-letter queue)`;
  cell.className = "bad";
  return null;
}

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;

// --- one book on both sides --------------------------------------------------------------------

let currentBook = null;
let currentTitle = "";

async function showSides(bookId) {
  currentBook = bookId;
  $("#sides-actions").hidden = false;
  renderSides(await call("GET", `/api/sides/${encodeURIComponent(bookId)}`));
}

function renderSides(sides) {
  const item = sides.item;
  const source = sides.document ? sides.document._source : null;
  currentTitle = item?.title?.S ?? source?.title ?? sides.book_id;
  $("#item-json").textContent = item ? pretty(item) : "(no item: not in the table)";
  $("#document-json").textContent = sides.document ? pretty(sides.document) : "(no document in the index)";
  const where = sides.searchable ? "a search finds it" : "no search finds it";
  const agree = sides.in_sync ? "table and index agree" : "the index is behind the table";
  $("#sides-status").textContent = `${currentTitle} (${sides.book_id}): ${where}; ${agree}.`;
  $("#sides-status").className = sides.in_sync ? "ok" : "bad";
  $("#sides-edit").disabled = $("#sides-delete").disabled = !item;
}

// --- search --------------------------------------------------------------------------------------

const filters = []; // [name, value] pairs: author, tag, year_from, year_to

async function search(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams();
  const q = $("#q").value.trim();
  if (q) params.append("q", q);
  for (const [name, value] of filters) params.append(name, value);
  const answer = await api("GET", `/search?${params.toString().replaceAll("+", "%20")}`);
  if (answer.status !== 200) {
    $("#search-summary").textContent = `Search failed: ${apiMessage(answer)}`;
    return;
  }
  renderResults(answer.body);
}

function renderResults(page) {
  $("#search-summary").textContent = `${page.total} book(s) match.`;
  $("#results").replaceChildren(...page.items.map(resultItem));
  renderFilters();
  renderFacets(page.facets);
}

function resultItem(hit) {
  const li = el("li");
  const title = el("button", undefined, "link");
  title.type = "button";
  title.append(...(hit.highlights?.title ? highlighted(hit.highlights.title[0]) : [hit.title]));
  title.addEventListener("click", () => showSides(hit.book_id));
  const meta = el("span", ` — ${hit.author}${hit.year !== undefined ? `, ${hit.year}` : ""} · score ${hit.score.toFixed(2)}`, "meta");
  li.append(title, meta);
  for (const fragment of hit.highlights?.summary || []) {
    const p = el("p", undefined, "fragment");
    p.append(...highlighted(fragment));
    li.append(p);
  }
  return li;
}

// The API's fragments are HTML: text escaped, matches in <em>. Rebuilt as text nodes and <mark>s.
function highlighted(html) {
  const parsed = new DOMParser().parseFromString(`<p>${html}</p>`, "text/html").body.firstChild;
  return [...parsed.childNodes].map((node) =>
    node.nodeName === "EM" ? el("mark", node.textContent) : document.createTextNode(node.textContent),
  );
}

function renderFilters() {
  const buttons = filters.map(([name, value], i) => {
    const button = el("button", `${name}: ${value} ✕`, "filter");
    button.type = "button";
    button.setAttribute("aria-label", `Remove filter ${name} ${value}`);
    button.addEventListener("click", () => {
      filters.splice(i, 1);
      search();
    });
    return button;
  });
  $("#filters").replaceChildren(...buttons);
}

const filterIndex = ([name, value]) => filters.findIndex(([n, v]) => n === name && v === value);

function renderFacets(facets) {
  const groups = [
    ["Tags", facets.tags.map((f) => [["tag", f.value], f.value, f.count])],
    ["Authors", facets.authors.map((f) => [["author", f.value], f.value, f.count])],
    [
      "Decades",
      facets.decades.map((d) => [[["year_from", d.decade], ["year_to", d.decade + 9]], `${d.decade}s`, d.count]),
    ],
  ];
  const nodes = groups
    .filter(([, entries]) => entries.length)
    .map(([name, entries]) => {
      const group = el("div", undefined, "facet");
      group.append(el("h3", name));
      for (const [filter, label, count] of entries) {
        const pairs = (Array.isArray(filter[0]) ? filter : [filter]).map((pair) => pair.map(String));
        const selected = pairs.every((pair) => filterIndex(pair) >= 0);
        const button = el("button", `${label} (${count})`);
        button.type = "button";
        // A toggle: pressed while its filter is on; pressing it again takes the filter off.
        button.setAttribute("aria-pressed", String(selected));
        button.addEventListener("click", () => {
          if (selected) for (const pair of pairs) filters.splice(filterIndex(pair), 1);
          else for (const pair of pairs) filters.push(pair);
          search();
        });
        group.append(button);
      }
      return group;
    });
  $("#facets").replaceChildren(...nodes);
}

// --- the dead-letter queue ------------------------------------------------------------------------

async function loadDeadLetters() {
  const found = await call("GET", "/api/deadletters");
  $("#dlq-summary").textContent = found.messages.length
    ? `${found.messages.length} message(s), newest first (read without removing them).`
    : "No messages: nothing was dead-lettered.";
  // A refresh keeps open the records the reader opened (read after the answer: a click may
  // have opened one while it was on its way).
  const open = new Set([...document.querySelectorAll("#dlq details[open]")].map((d) => d.dataset.id));
  $("#dlq").replaceChildren(...found.messages.map((message) => deadLetter(message, open)));
}

function deadLetter(message, open) {
  const article = el("article", undefined, "letter");
  const sent = message.sent_ms ? new Date(message.sent_ms).toLocaleString() : "";
  article.append(el("h3", `${message.kind}${message.document_id ? ` · ${message.document_id}` : ""}`));
  article.append(el("p", sent, "meta"));
  article.append(el("pre", pretty(message.error)));
  const details = el("details");
  details.dataset.id = message.id;
  details.open = open.has(message.id);
  details.append(el("summary", "The record"), el("pre", pretty(message.record)));
  article.append(details);
  return article;
}

// --- reconcile -----------------------------------------------------------------------------------

async function runReconcile(repair) {
  const buttons = [$("#reconcile"), $("#reconcile-repair")];
  buttons.forEach((b) => (b.disabled = true));
  $("#reconcile-summary").textContent = repair ? "Comparing and repairing …" : "Comparing …";
  try {
    const report = await call("POST", "/api/reconcile", { repair });
    const c = report.counts;
    let text = `${c.table_items} items, ${c.index_documents} documents: missing ${c.missing}, extra ${c.extra}, stale ${c.stale}.`;
    if (report.repair) {
      text += ` Repair: ${report.repair.written} written, ${report.repair.deleted} deleted, ${report.remaining.length} left.`;
    }
    text += report.in_sync ? " In sync." : " Drift.";
    $("#reconcile-summary").textContent = text;
    $("#reconcile-summary").className = report.in_sync ? "ok" : "bad";
    const rows = report.drift.map((d) => {
      const tr = el("tr");
      const fields = d.fields ? Object.entries(d.fields).map(([k, v]) => `${k}: ${v.join(", ")}`).join("; ") : "";
      tr.append(el("td", d.kind), el("td", d.id), el("td", fields));
      return tr;
    });
    $("#drift tbody").replaceChildren(...rows);
    $("#drift").hidden = rows.length === 0;
  } catch (error) {
    $("#reconcile-summary").textContent = `Reconcile failed: ${error.message}`;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

// --- wiring --------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("#book-form").addEventListener("submit", saveBook);
  $("#cancel-edit").addEventListener("click", resetForm);
  $("#reload-books").addEventListener("click", () => loadBooks());
  $("#more-books").addEventListener("click", () => loadBooks(true));
  $("#search-form").addEventListener("submit", search);
  $("#sides-refresh").addEventListener("click", () => currentBook && showSides(currentBook));
  $("#sides-edit").addEventListener("click", () => currentBook && startEdit(currentBook));
  $("#sides-delete").addEventListener("click", () => currentBook && deleteBook(currentBook, currentTitle));
  $("#dlq-refresh").addEventListener("click", loadDeadLetters);
  $("#reconcile").addEventListener("click", () => runReconcile(false));
  $("#reconcile-repair").addEventListener("click", () => runReconcile(true));
  // Errors already shown in the banner need no second report.
  window.addEventListener("unhandledrejection", (event) => {
    if (event.reason instanceof NotReady) event.preventDefault();
  });
  refreshHealth();
  setInterval(refreshHealth, HEALTH_EVERY_MS);
});
