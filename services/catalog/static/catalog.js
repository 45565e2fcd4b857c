// The catalog's pages: live search on the list, "try it" on a service's page.
// Whatever a service sends is shown with textContent, never parsed as HTML, and the
// page never holds an API key: "try it" posts to the catalog, which calls the service.
(function () {
  "use strict";
  const TIMEOUT_MS = 35000;

  function setupSearch() {
    const input = document.getElementById("search");
    const list = document.getElementById("services");
    if (!input || !list) return;
    const cards = Array.from(list.querySelectorAll(".card"));
    const count = document.getElementById("count");
    const empty = document.getElementById("empty");

    function filter() {
      // The same rule as the server's search: every word occurs in the card's text.
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      cards.forEach(function (card) {
        const text = card.dataset.search || "";
        const match = words.every(function (w) { return text.includes(w); });
        card.hidden = !match;
        if (match) shown += 1;
      });
      count.textContent = shown + " of " + cards.length + " services";
      empty.hidden = shown > 0;
      const url = new URL(window.location.href);
      if (input.value) url.searchParams.set("q", input.value); else url.searchParams.delete("q");
      history.replaceState(null, "", url);
    }

    input.addEventListener("input", filter);
    input.form.addEventListener("submit", function (event) { event.preventDefault(); filter(); });
  }

  function setupTry() {
    const form = document.getElementById("try-form");
    if (!form) return;
    const input = document.getElementById("try-input");
    const status = document.getElementById("try-status");
    const output = document.getElementById("try-output");
    const run = document.getElementById("try-run");
    const sample = input.value;

    const images = document.getElementById("try-images");

    function show(kind, message, value) {
      status.className = "try__status try__status--" + kind;
      status.textContent = message;
      output.hidden = value === undefined;
      images.replaceChildren();
      const shown = value === undefined ? undefined : withImages(value, "");
      output.textContent = value === undefined ? "" : JSON.stringify(shown, null, 2);
    }

    // Base64 images in an answer (a meme, a download) are shown as pictures, and only
    // named in the JSON. A data: URL in an <img> runs no script.
    const IMAGE_MAGIC = {"iVBORw0KGgo": "image/png", "/9j/": "image/jpeg", "R0lGOD": "image/gif"};

    function imageType(value) {
      if (typeof value !== "string" || value.length < 64) return null;
      const magic = Object.keys(IMAGE_MAGIC).find(function (m) { return value.startsWith(m); });
      return magic ? IMAGE_MAGIC[magic] : null;
    }

    // Base64 videos (the video pipeline's MP4, a WebM) are played in a <video> (a blob:
    // URL; the page's CSP allows media from blob: only): the
    // container is told by its first bytes ("ftyp" at offset 4, or WebM's EBML magic).
    function videoType(value) {
      if (typeof value !== "string" || value.length < 64) return null;
      if (value.startsWith("GkXfo")) return "video/webm";
      let head = "";
      try { head = atob(value.slice(0, 16)); } catch (e) { return null; }
      return head.slice(4, 8) === "ftyp" ? "video/mp4" : null;
    }

    function showVideo(value, type, path) {
      const figure = document.createElement("figure");
      const video = document.createElement("video");
      // A blob: URL, not a data: one: a video may be megabytes, decoded once here.
      const bytes = Uint8Array.from(atob(value), function (c) { return c.charCodeAt(0); });
      video.src = URL.createObjectURL(new Blob([bytes], {type: type}));
      video.controls = true;
      video.loop = true;
      video.muted = true;   // a muted video may start on its own in every browser
      video.autoplay = true;
      video.playsInline = true;
      video.className = "try__image try__video";
      video.setAttribute("aria-label", path);
      const caption = document.createElement("figcaption");
      caption.textContent = path;
      figure.append(video, caption);
      images.appendChild(figure);
      return "<" + type + ", " + Math.round(value.length * 3 / 4) + " bytes: playing above>";
    }

    function withImages(value, path) {
      const video = videoType(value);
      if (video) return showVideo(value, video, path);
      const type = imageType(value);
      if (type) {
        const figure = document.createElement("figure");
        const img = document.createElement("img");
        img.src = "data:" + type + ";base64," + value;
        img.alt = path;
        img.className = "try__image";
        const caption = document.createElement("figcaption");
        caption.textContent = path;
        figure.append(img, caption);
        images.appendChild(figure);
        return "<" + type + ", " + Math.round(value.length * 3 / 4) + " bytes: shown above>";
      }
      if (Array.isArray(value)) return value.map(function (v, i) { return withImages(v, path + "[" + i + "]"); });
      const join = function (k) { return path ? path + "." + k : k; };
      if (value && typeof value === "object") {
        const out = {};
        Object.keys(value).forEach(function (k) { out[k] = withImages(value[k], join(k)); });
        return out;
      }
      return value;
    }

    function parseInput() {
      let data;
      try { data = JSON.parse(input.value); } catch (e) {
        show("error", "The input is not valid JSON: " + e.message);
        return null;
      }
      if (data === null || typeof data !== "object" || Array.isArray(data)) {
        show("error", "The input must be one JSON object.");
        return null;
      }
      return data;
    }

    function report(response, body, roundTripMs) {
      const trip = " (" + roundTripMs.toFixed(0) + " ms round trip)";
      if (response.ok && body && body.answer) {
        show("ok", "Answered in " + body.duration_ms.toFixed(1) + " ms by " + body.service + trip,
             body.answer);
      } else if (body && body.error) {
        show("error", "Error " + response.status + " " + body.error.code + ": " +
             body.error.message + trip, body.error.details);
      } else {
        show("error", "The catalog answered HTTP " + response.status + trip);
      }
    }

    async function send(data) {
      const started = performance.now();
      const controller = new AbortController();
      const timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
      try {
        const response = await fetch(form.dataset.action, {
          method: "POST", signal: controller.signal,
          headers: {"Content-Type": "application/json", "Accept": "application/json"},
          body: JSON.stringify({input: data})});
        let body = null;
        try { body = await response.json(); } catch (e) { /* not JSON: reported below */ }
        report(response, body, performance.now() - started);
      } catch (e) {
        show("error", e.name === "AbortError" ? "No answer within " + TIMEOUT_MS / 1000 + " s."
                                              : "Could not reach the catalog.");
      } finally {
        clearTimeout(timer);
      }
    }

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const data = parseInput();
      if (data === null) return;
      run.disabled = true;
      form.setAttribute("aria-busy", "true");
      show("pending", "Running…");
      await send(data);
      run.disabled = false;
      form.removeAttribute("aria-busy");
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
    });
    document.getElementById("try-reset").addEventListener("click", function () {
      input.value = sample;
      input.focus();
    });
  }

  setupSearch();
  setupTry();
})();
