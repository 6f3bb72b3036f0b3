// Spacelift Portal: the little JavaScript the pages need. No framework, no build step.
"use strict";

// Poll only while the tab is visible: htmx asks before every request, we say no when hidden.
document.addEventListener("htmx:beforeRequest", (event) => {
  const source = event.detail.elt;
  if (document.hidden && source && source.hasAttribute("data-poll")) event.preventDefault();
});

// Coming back to the tab refreshes at once instead of waiting for the next tick.
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) document.body.dispatchEvent(new CustomEvent("portal:visible"));
});

// An unchanged poll answers 204 with the time the data was confirmed: keep "updated" true.
document.addEventListener("portal:unchanged", (event) => {
  const at = event.detail && event.detail.fetchedAt;
  const region = event.target.closest ? event.target.closest("[data-poll]") : null;
  if (!at || !region) return;
  region.querySelectorAll("time[data-fetched-at]").forEach((el) => {
    el.dataset.fetchedAt = String(Math.floor(at));
  });
  tick();
});

function humanize(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ${minutes % 60} min` : `${Math.floor(hours / 24)} d`;
}

// "Updated N s ago" counts up between polls.
function tick() {
  const now = Date.now() / 1000;
  document.querySelectorAll("time[data-fetched-at]").forEach((el) => {
    el.textContent = humanize(now - Number(el.dataset.fetchedAt));
  });
}
setInterval(tick, 1000);

// A poll whose session expired gets 401/403: go to the login page, never swap it in a table.
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  if (status === 401) window.location.reload();
});

// The page title carries the number of failing stacks, kept current by each poll.
function syncTitle() {
  const source = document.querySelector(".title-source[data-title]");
  if (source) document.title = source.dataset.title;
}

// Keyboard: "/" to search, j/k to move through the stacks, Enter to open the selected one.
let selectedStack = null;

function stackRows() {
  return [...document.querySelectorAll("tr[data-stack]")];
}

function select(row, scroll = true) {
  // A class only: a plain table row cannot carry aria-selected (not a grid or listbox).
  document.querySelectorAll("tr.selected").forEach((r) => r.classList.remove("selected"));
  if (!row) {
    selectedStack = null;
    return;
  }
  row.classList.add("selected");
  selectedStack = row.dataset.stack;
  if (scroll) row.scrollIntoView({ block: "nearest" });
}

function openShortcuts() {
  const dialog = document.getElementById("kbd-help");
  if (dialog && !dialog.open) dialog.showModal();
}

document.addEventListener("click", (event) => {
  if (event.target.closest && event.target.closest("[data-shortcuts]")) openShortcuts();
});

document.addEventListener("keydown", (event) => {
  const target = event.target;
  const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement || (target && target.isContentEditable);
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const rows = stackRows();
  const current = rows.findIndex((r) => r.dataset.stack === selectedStack);
  if (event.key === "?") {
    event.preventDefault();
    openShortcuts();
  } else if (event.key === "Escape") {
    select(null);
  } else if (event.key === "/") {
    const search = document.querySelector('input[name="q"]');
    if (search) {
      event.preventDefault();
      const fold = search.closest("details");
      if (fold) fold.open = true;  // a folded search still answers "/"
      search.focus();
      search.select();
    }
  } else if (event.key === "j" && rows.length) {
    select(rows[Math.min(rows.length - 1, current + 1)]);
  } else if (event.key === "k" && rows.length) {
    select(rows[Math.max(0, current - 1)]);
  } else if (event.key === "Enter" && current >= 0) {
    const link = rows[current].querySelector("td.name a");
    if (link) link.click();
  }
});

// One banner per page: the first region with a problem fills it; the first good read of
// every region removes it. Each stale region keeps its own short mark.
function syncProblem() {
  const banner = document.getElementById("page-problem");
  if (!banner) return;
  const mark = document.querySelector("[data-problem]");
  document.querySelectorAll("[data-poll]").forEach((region) => {
    region.classList.toggle("region-stale", !!region.querySelector("[data-problem]"));
  });
  if (!mark) {
    banner.hidden = true;
    banner.replaceChildren();
    return;
  }
  const detail = mark.nextElementSibling;
  banner.className = "banner banner-stale";
  banner.replaceChildren(detail && detail.content ? detail.content.cloneNode(true) : "");
  banner.hidden = false;
}

// htmx settles attributes after a swap, which would undo a class set on the new region.
document.addEventListener("htmx:afterSettle", syncProblem);

// After a poll replaced the table, keep the selection and the title.
document.addEventListener("htmx:afterSwap", () => {
  syncTitle();
  if (selectedStack) select(stackRows().find((r) => r.dataset.stack === selectedStack), false);
});
document.addEventListener("DOMContentLoaded", () => {
  syncTitle();
  syncProblem();
  // The filters are folded until a person opens them; that choice is remembered on this
  // browser. A filter that is set opens them regardless (the server renders them open).
  const fold = document.querySelector("details.filters-fold");
  if (fold) {
    if (!fold.open && localStorage.getItem("portal.filters") === "open") fold.open = true;
    fold.addEventListener("toggle", () => {
      localStorage.setItem("portal.filters", fold.open ? "open" : "closed");
    });
  }
});

// Filters left at "All" stay out of the URL, so shared links read ?health=failing, not ?q=&...
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("filters")) return;
  form.querySelectorAll("input[name], select[name]").forEach((field) => {
    if (!field.value) field.disabled = true;
  });
});
window.addEventListener("pageshow", () => {
  document.querySelectorAll("form.filters [disabled]").forEach((f) => { f.disabled = false; });
});

// Live regions (an event stream on <main data-live>): after the stream reconnects, events may
// have been missed, so the regions refresh as on coming back to the tab.
let liveStreamOpened = false;
document.addEventListener("htmx:sseOpen", () => {
  if (liveStreamOpened) document.body.dispatchEvent(new CustomEvent("portal:visible"));
  liveStreamOpened = true;
});

// A refresh must not take keyboard focus away: when a swapped region held the focus, the same
// element in the new region (by id, else by its link or field name and its place) gets it back,
// without scrolling. A stack linked twice (in "Needs a human" and in the table) may be linked
// once after the refresh: then the last link to it left gets the focus.
let focusBefore = null;
function focusSelector(element) {
  const tag = element.tagName.toLowerCase();
  if (element.id) return `#${CSS.escape(element.id)}`;
  const href = element.getAttribute("href");
  if (href) return `${tag}[href="${CSS.escape(href)}"]`;
  const name = element.getAttribute("name");
  if (name) return `${tag}[name="${CSS.escape(name)}"]`;
  return tag;
}
document.addEventListener("htmx:beforeSwap", (event) => {
  const region = event.detail.target;
  const active = document.activeElement;
  if (!event.detail.shouldSwap || !region || !region.id || !active || !region.contains(active)) {
    return;
  }
  const selector = focusSelector(active);
  focusBefore = { region: region.id, selector, index: [...region.querySelectorAll(selector)].indexOf(active) };
});
document.addEventListener("htmx:afterSettle", () => {
  if (!focusBefore) return;
  const { region, selector, index } = focusBefore;
  const root = document.getElementById(region);
  if (!root) return;
  focusBefore = null;
  const active = document.activeElement;
  if (active && active !== document.body && active.isConnected) return; // focus went on elsewhere
  const matches = root.querySelectorAll(selector);
  const found = matches[Math.min(Math.max(0, index), matches.length - 1)];
  if (found) found.focus({ preventScroll: true });
});

// A fold a person opened inside a refreshed region (class "keep-open", with an id) stays open.
const openFolds = new Set();
document.addEventListener("htmx:beforeSwap", (event) => {
  const region = event.detail.target;
  if (!region || !region.querySelectorAll) return;
  region.querySelectorAll("details.keep-open[id][open]").forEach((d) => openFolds.add(d.id));
});
document.addEventListener("htmx:afterSettle", () => {
  openFolds.forEach((id) => {
    const fold = document.getElementById(id);
    if (fold) fold.open = true;
  });
  openFolds.clear();
});

// A run's phases re-render with the logs region (their labels follow the run); each phase the
// page already showed stays open or closed as the person left it. Its log body is kept by
// hx-preserve, so nothing is read again.
let phasesBefore = null;
document.addEventListener("htmx:beforeSwap", (event) => {
  const region = event.detail.target;
  if (!event.detail.shouldSwap || !region || !region.querySelectorAll) return;
  const phases = region.querySelectorAll("details.phase[id]");
  if (!phases.length) return;
  phasesBefore = new Map([...phases].map((phase) => [phase.id, phase.open]));
});
document.addEventListener("htmx:afterSwap", () => {
  if (!phasesBefore) return;
  phasesBefore.forEach((open, id) => {
    const phase = document.getElementById(id);
    if (phase && phase.open !== open) phase.open = open;
  });
  phasesBefore = null;
});

// A failed run opens on its failing line: the browser goes there itself for a link to
// #failed-line; a plain visit is brought there too, once, as the page loads.
document.addEventListener("DOMContentLoaded", () => {
  const line = document.getElementById("failed-line");
  if (line && !window.location.hash) line.scrollIntoView({ block: "center" });
});
