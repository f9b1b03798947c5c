// The conversation's thread: open at the newest message (or the one in the URL's #fragment, or
// the "New" line when there is news since the last visit), keep the reading position still while
// older messages are put above it, and offer "Jump to latest" once the reader has scrolled far up
// (photos open in lightbox.js). A thread arrives with the page or, in two panes, swapped into
// #thread-pane by htmx (panes.js): both open the same way. Everything works without this file
// too: links load older pages and open photos.
(() => {
  "use strict";

  const root = document.documentElement;
  // "Far up": more than two screens above the newest message.
  const FAR = 2;

  function openAtStart() {
    const target = location.hash && document.getElementById(location.hash.slice(1));
    const news = document.getElementById("new-divider");
    if (target) {
      target.scrollIntoView({ block: "center" });
      target.classList.add("highlight");
    } else if (news) {
      news.scrollIntoView({ block: "start" });
    } else {
      window.scrollTo(0, root.scrollHeight);
    }
    showJump();
  }

  // htmx puts older messages above what is on screen; without this the page would jump by their
  // height. Measured from the bottom, the distance stays the same.
  let fromBottom = null;
  let joint = null; // the first thing shown before the older page arrived
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (event.detail.shouldSwap && target?.classList.contains("load-older")) {
      fromBottom = root.scrollHeight - window.scrollY;
      joint = target.nextElementSibling;
    }
  });
  // A swap htmx makes while restoring history comes with no target.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target?.id === "thread-pane") {
      // A thread opened beside the inbox: at its start, before htmx watches its "load older" row.
      openAtStart();
      return;
    }
    if (fromBottom === null) return;
    // Each page starts with its day's separator: where the older page ends on that same day,
    // the day keeps one separator, above its first message.
    if (joint && joint.classList.contains("day")) {
      let previous = joint.previousElementSibling;
      while (previous && !previous.classList.contains("day")) {
        previous = previous.previousElementSibling;
      }
      if (previous && previous.textContent === joint.textContent) joint.remove();
    }
    window.scrollTo(0, root.scrollHeight - fromBottom);
    fromBottom = null;
    joint = null;
  });
  // Back or forward to a thread htmx had put in the pane: the server sent it again.
  document.addEventListener("htmx:historyRestore", (event) => {
    if (event.detail.path === location.pathname + location.search) openAtStart();
  });

  // Jump to latest ------------------------------------------------------------------------------

  function showJump() {
    const jump = document.querySelector(".jump-latest");
    if (!jump) return;
    const below = root.scrollHeight - (window.scrollY + window.innerHeight);
    jump.hidden = below < FAR * window.innerHeight;
  }

  let ticking = false;
  window.addEventListener(
    "scroll",
    () => {
      if (ticking) return;
      ticking = true;
      requestAnimationFrame(() => {
        ticking = false;
        showJump();
      });
    },
    { passive: true },
  );

  // With the newest message already in the thread, the jump is a scroll; otherwise (a thread
  // opened around a search result) the link's htmx request brings the newest page.
  document.addEventListener(
    "click",
    (event) => {
      const jump = event.target.closest(".jump-latest");
      if (!jump || document.querySelector("#thread .load-newer")) return;
      event.preventDefault();
      event.stopPropagation();
      const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      window.scrollTo({ top: root.scrollHeight, behavior: smooth ? "smooth" : "auto" });
      jump.hidden = true;
    },
    true,
  );

  document.addEventListener("DOMContentLoaded", () => {
    if (document.getElementById("thread")) openAtStart();
  });
})();
