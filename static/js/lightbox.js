// The media viewer (templates/reader/lightbox.html). Any a[data-lightbox] opens it; it pages
// through the links of the same [data-lightbox-group] (a conversation's thread, its gallery) with
// the arrow keys, its buttons or a swipe, and in a gallery loads the next page when it reaches the
// end. It shows the alt text, offers the original to download, and Escape closes it (a modal
// <dialog> does that by itself). Listeners are on the document, so links htmx swaps in work too.
// Without this file each link opens the photo or video itself.
(() => {
  "use strict";

  const SWIPE = 50; // px: a shorter horizontal move is a tap or a wobble
  let items = [];
  let at = -1;
  let waitingForMore = false;
  let swiped = false;

  const $ = (id) => document.getElementById(id);

  function groupOf(link) {
    const root = link.closest("[data-lightbox-group]") || document;
    return [...root.querySelectorAll("a[data-lightbox]")];
  }

  // In a gallery, the element that loads the next (older) page when triggered.
  function moreLoader() {
    const link = items[at];
    const root = link && link.closest("[data-lightbox-group]");
    return root ? root.querySelector(".gallery-more[hx-get]") : null;
  }

  // "3 of 57": of the whole gallery (its total comes with the page), or of what a thread shows
  // when it has no more to load; just "3" when the end is not known.
  function position() {
    const root = items[at].closest("[data-lightbox-group]");
    const total = Number(root && root.dataset.lightboxTotal) || 0;
    if (total > 1) return `${at + 1} of ${Math.max(total, items.length)}`;
    if (items.length < 2) return "";
    const more = root && root.querySelector(".gallery-more, .load-older, .load-newer");
    return more ? `${at + 1}` : `${at + 1} of ${items.length}`;
  }

  function setLink(anchor, href) {
    anchor.hidden = !href;
    if (href) anchor.href = href;
    else anchor.removeAttribute("href");
  }

  function show(index) {
    at = index;
    const link = items[at];
    const kind = link.dataset.kind || "photo";
    const image = $("lightbox-image");
    const video = $("lightbox-video");
    const alt = link.dataset.alt || "";
    if (kind === "photo") {
      video.pause();
      video.removeAttribute("src");
      video.hidden = true;
      image.hidden = false;
      image.src = link.href;
      image.alt = alt || "Photo";
    } else {
      image.removeAttribute("src");
      image.hidden = true;
      video.hidden = false;
      const gif = kind === "animated_gif";
      video.loop = gif;
      video.muted = gif;
      video.autoplay = gif;
      video.poster = link.dataset.poster || "";
      video.src = link.href;
      video.setAttribute("aria-label", (gif ? "GIF" : "Video") + (alt ? `: ${alt}` : ""));
    }
    $("lightbox-caption").textContent = alt;
    $("lightbox-count").textContent = position();
    setLink($("lightbox-download"), link.dataset.download || "");
    setLink($("lightbox-context"), link.dataset.context || "");
    $("lightbox-prev").disabled = at === 0;
    $("lightbox-next").disabled = at === items.length - 1 && !moreLoader();
  }

  function step(delta) {
    const next = at + delta;
    if (next >= 0 && next < items.length) {
      show(next);
      return;
    }
    const loader = delta > 0 ? moreLoader() : null;
    if (loader && !waitingForMore && window.htmx) {
      waitingForMore = true;
      window.htmx.trigger(loader, "more");
    }
  }

  // The gallery's next page arrived: take it into the set and go on to its first item.
  document.addEventListener("htmx:afterSettle", () => {
    if (!waitingForMore) return;
    waitingForMore = false;
    const dialog = $("lightbox");
    if (!dialog || !dialog.open || !items[at]) return;
    const current = items[at];
    items = groupOf(current);
    at = items.indexOf(current);
    show(Math.min(at + 1, items.length - 1));
  });

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-lightbox]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    const dialog = $("lightbox");
    if (!dialog) return;
    event.preventDefault();
    if (!dialog.dataset.wired) {
      dialog.dataset.wired = "1";
      wire(dialog);
    }
    items = groupOf(link);
    show(items.indexOf(link));
    dialog.showModal();
  });

  function wire(dialog) {
    $("lightbox-prev").addEventListener("click", () => step(-1));
    $("lightbox-next").addEventListener("click", () => step(1));
    dialog.addEventListener("keydown", (event) => {
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        // A focused video keeps its own arrow keys (seeking).
        if (event.target.tagName === "VIDEO") return;
        event.preventDefault();
        step(event.key === "ArrowRight" ? 1 : -1);
      }
    });
    // Swipe: a horizontal move of the pointer (finger, pen or mouse) over the photo.
    let start = null;
    dialog.addEventListener("pointerdown", (event) => {
      swiped = false;
      start = event.isPrimary ? { x: event.clientX, y: event.clientY } : null;
    });
    dialog.addEventListener("pointerup", (event) => {
      if (!start) return;
      const dx = event.clientX - start.x;
      const dy = event.clientY - start.y;
      start = null;
      if (Math.abs(dx) > SWIPE && Math.abs(dx) > 2 * Math.abs(dy)) {
        swiped = true;
        step(dx < 0 ? 1 : -1);
      }
    });
    dialog.addEventListener("pointercancel", () => {
      start = null;
    });
    // A click on the dark backdrop closes the viewer, as anywhere else on the web.
    dialog.addEventListener("click", (event) => {
      if (swiped) {
        swiped = false;
        return;
      }
      const onSomething = event.target.closest("img, video, a, button, .lightbox-bar, .lightbox-foot, .lightbox-caption");
      if (!onSomething) dialog.close();
    });
    dialog.addEventListener("close", () => {
      const video = $("lightbox-video");
      video.pause();
      video.removeAttribute("src");
      $("lightbox-image").removeAttribute("src");
      const link = items[at];
      if (link && link.isConnected) link.focus();
    });
  }
})();
