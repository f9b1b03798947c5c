// The conversation page: open at the newest message (or the one in the URL's #fragment), keep the
// reading position still while older messages are put above it, and show photos in a lightbox.
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

  function lightbox() {
    const dialog = document.getElementById("lightbox");
    if (!dialog) return;
    const image = document.getElementById("lightbox-image");
    const caption = document.getElementById("lightbox-caption");
    let opener = null;
    document.addEventListener("click", (event) => {
      const link = event.target.closest("a[data-lightbox]");
      if (!link) return;
      event.preventDefault();
      opener = link;
      image.src = link.href;
      image.alt = link.dataset.alt || "Photo";
      caption.textContent = link.dataset.alt || "";
      dialog.showModal();
    });
    // Escape closes a modal <dialog> by itself; a click on the backdrop closes it too.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close();
    });
    dialog.addEventListener("close", () => {
      image.removeAttribute("src");
      if (opener) opener.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    openAtStart();
    lightbox();
  });
})();
