// Two panes from about 1024 px (templates/inbox.html): an inbox row opens its thread beside the
// inbox (hx-boost on the rows swaps conversation.html#thread into #thread-pane and pushes the URL),
// so the inbox keeps its place and its scroll. A phone keeps one pane: there a row is an ordinary
// link to the conversation's own page. This file marks the open row (aria-current) and lets
// narrow screens follow rows as links. Without it every row is still a link that works.
(() => {
  "use strict";

  const wide = window.matchMedia("(min-width: 1024px)");

  // Narrow screens, and any click meant for a new tab or window: the browser follows the link
  // itself. Caught before htmx's own listener on the link (capture on the document).
  document.addEventListener(
    "click",
    (event) => {
      const row = event.target.closest("a.inbox-row");
      if (!row) return;
      if (!wide.matches || event.shiftKey || event.ctrlKey || event.metaKey || event.button !== 0) {
        event.stopPropagation();
      }
    },
    true,
  );

  // The row of the conversation on screen is marked as the current page; once its thread is
  // shown (not when the inbox's polling brings news of it), it is no longer new.
  function markOpen(scroll, seen) {
    let open = null;
    for (const row of document.querySelectorAll("a.inbox-row")) {
      const here = new URL(row.href, location.href).pathname === location.pathname;
      if (here) {
        row.setAttribute("aria-current", "page");
        if (seen) {
          row.parentElement.classList.remove("unread");
          row.querySelector(".unread-note")?.remove();
        }
        open = row;
      } else {
        row.removeAttribute("aria-current");
      }
    }
    // A whole page (a reload, a link from elsewhere) opens with the open row in sight.
    if (open && scroll && wide.matches) open.scrollIntoView({ block: "nearest" });
  }

  // Back twice in a row: htmx asks the server for each page and swaps the answers in the order
  // they arrive, so a slow answer for a page already left could land last and show a thread the
  // URL does not name. Such an answer goes nowhere (htmx swaps the event's own details).
  document.addEventListener("htmx:historyCacheMissLoad", (event) => {
    if (event.detail.path !== location.pathname + location.search) {
      event.detail.historyElt = document.createElement("div");
      event.detail.response = "";
    }
  });

  document.addEventListener("DOMContentLoaded", () => markOpen(true, false));
  // Every swap: a thread opened, the inbox re-rendered by its polling or its next page.
  document.addEventListener("htmx:afterSettle", (event) => {
    markOpen(false, event.detail.target?.id === "thread-pane");
  });
  // Back and forward: the inbox stays as the reader left it, scroll included.
  document.addEventListener("htmx:historyRestore", () => markOpen(false, true));
})();
