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
