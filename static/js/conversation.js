// The conversation page: open at the newest message (or the one in the URL's #fragment), keep the
// reading position still while older messages are put above it (photos open in lightbox.js).
// Everything works without this file too: links load older pages and open photos.
(() => {
  "use strict";

  const root = document.documentElement;

  function openAtStart() {
    const target = location.hash && document.getElementById(location.hash.slice(1));
    if (target) {
      target.scrollIntoView({ block: "center" });
      target.classList.add("highlight");
    } else {
      window.scrollTo(0, root.scrollHeight);
    }
  }

  // htmx puts older messages above what is on screen; without this the page would jump by their
  // height. Measured from the bottom, the distance stays the same.
  let fromBottom = null;
  let joint = null; // the first thing shown before the older page arrived
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (event.detail.shouldSwap && target.classList.contains("load-older")) {
      fromBottom = root.scrollHeight - window.scrollY;
      joint = target.nextElementSibling;
    }
  });
  document.addEventListener("htmx:afterSwap", () => {
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

  document.addEventListener("DOMContentLoaded", () => {
    openAtStart();
  });
})();
