// The Import page's upload with a progress bar: a browser shows none for a form's upload, and an
// X archive of several GB takes minutes to send. Loaded with the CSP nonce; without it the form
// posts as usual and the browser's own status line is all there is.
(() => {
  "use strict";

  const form = document.querySelector("form.import-form");
  if (!form) return;
  const button = form.querySelector("button[type=submit]");
  const bar = form.querySelector(".upload-bar");
  const line = form.querySelector(".upload-line");

  function megabytes(bytes) {
    return (bytes / 1024 ** 2).toLocaleString(undefined, { maximumFractionDigits: 0 }) + " MB";
  }

  function stopped(text) {
    line.textContent = text;
    line.classList.add("upload-problem");
    bar.hidden = true;
    button.disabled = false;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", (progress) => {
      if (!progress.lengthComputable) return;
      bar.value = Math.floor((progress.loaded * 100) / progress.total);
      line.textContent = `Uploading: ${megabytes(progress.loaded)} of ${megabytes(progress.total)}`;
    });
    request.addEventListener("load", () => {
      if (request.status < 400) {
        // Redirected to the job's page, which shows the import's own progress.
        window.location.assign(request.responseURL);
        return;
      }
      // The page again, with why the upload was refused: show that sentence here.
      const page = new DOMParser().parseFromString(request.responseText, "text/html");
      const problem = page.querySelector("[role=alert]");
      stopped(problem ? problem.textContent.trim() : `The upload was refused (${request.status}).`);
    });
    request.addEventListener("error", () => {
      stopped("The upload stopped before it ended: the connection was lost, or the file is "
        + "larger than this server takes. Try again.");
    });
    bar.value = 0;
    bar.hidden = false;
    line.classList.remove("upload-problem");
    button.disabled = true;
    line.textContent = "Uploading…";
    request.send(new FormData(form));
  });
})();
