// Keys on every page, as in X's and mail readers: "/" to search, j/k or the arrows through the
// inbox (Enter opens a row: it is a link), Escape from a conversation back to the inbox.
// Loaded with the CSP nonce from base.html; without it every link and form works the same.
(() => {
  "use strict";

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  function moveInInbox(step) {
    const rows = [...document.querySelectorAll("a.inbox-row")];
    if (!rows.length) return false;
    const at = rows.indexOf(document.activeElement);
    const next = at === -1 ? 0 : Math.min(rows.length - 1, Math.max(0, at + step));
    rows[next].focus();
    rows[next].scrollIntoView({ block: "nearest" });
    return true;
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    const onRow = document.activeElement?.matches("a.inbox-row");
    let handled = false;
    if (event.key === "/") {
      const search = document.getElementById("header-q");
      if (search) {
        search.focus();
        search.select();
        handled = true;
      }
    } else if (event.key === "j" || (event.key === "ArrowDown" && onRow)) {
      handled = moveInInbox(1);
    } else if (event.key === "k" || (event.key === "ArrowUp" && onRow)) {
      handled = moveInInbox(-1);
    } else if (event.key === "Escape" && !document.querySelector("dialog[open]")) {
      // An open lightbox takes Escape itself (a modal <dialog> closes on it).
      const back = document.querySelector(".conversation-head a.back");
      if (back) {
        location.assign(back.href);
        handled = true;
      }
    }
    if (handled) event.preventDefault();
  });
})();
