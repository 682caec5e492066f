"use strict";
// The box UI's behaviour. Served by the box itself; no inline script (strict CSP).

function csrfToken() {
  const field = document.getElementById("csrf-token") || document.querySelector("input[name=csrf_token]");
  return field ? field.value : "";
}

// Session monitor: warn a minute before the idle logoff and offer to stay signed in.
function startSessionMonitor() {
  const body = document.body;
  if (!body.dataset.statusUrl) return;
  const dialog = document.getElementById("idle-warning");
  const countdown = document.getElementById("idle-countdown");
  let secondsLeft = Number(body.dataset.idleSeconds);
  let lastSync = Date.now();

  async function sync() {
    try {
      const response = await fetch(body.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.status === 401) { window.location = body.dataset.loginUrl; return; }
      secondsLeft = (await response.json()).seconds_left;
      lastSync = Date.now();
    } catch (error) { /* offline for a moment: keep counting locally */ }
  }

  function tick() {
    const left = Math.max(0, Math.round(secondsLeft - (Date.now() - lastSync) / 1000));
    if (left <= 0) {
      // The server ends the session; ask until it says so (401), then sync() goes to the login page.
      if (Date.now() - lastSync > 2000) sync();
      return;
    }
    if (left <= 60) {
      countdown.textContent = left;
      if (!dialog.open) { sync(); dialog.showModal(); }
    } else if (dialog.open) {
      dialog.close();
    }
  }

  document.getElementById("stay-signed-in").addEventListener("click", async () => {
    const response = await fetch(body.dataset.keepaliveUrl, {
      method: "POST", headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
    if (response.ok) { secondsLeft = (await response.json()).seconds_left; lastSync = Date.now(); dialog.close(); }
    else { window.location = body.dataset.loginUrl; }
  });
  setInterval(tick, 1000);
  setInterval(sync, 30000);
}

// Viewer zoom and jump to the page a search hit pointed at.
function startViewer() {
  const pages = document.getElementById("pages");
  if (!pages) return;
  let zoom = 1;
  const label = document.getElementById("zoom-level");
  document.querySelectorAll("[data-zoom]").forEach((button) => button.addEventListener("click", () => {
    zoom = Math.min(3, Math.max(0.5, zoom + Number(button.dataset.zoom) * 0.25));
    pages.style.setProperty("--zoom", zoom);
    label.textContent = Math.round(zoom * 100) + "%";
  }));
  const focus = pages.querySelector("figure.focus");
  if (focus) focus.scrollIntoView({ block: "start" });
}

// Upload: drag and drop, one request per file with its own progress, then follow it through the pipeline.
function startUpload() {
  const zone = document.getElementById("dropzone");
  if (!zone) return;
  const list = document.getElementById("uploads");
  const labels = { filed: "Filed", needs_review: "Needs review", quarantined: "Quarantined", duplicate: "Duplicate" };

  function follow(url, row, state, bar) {
    const poll = async () => {
      const data = await (await fetch(url, { headers: { Accept: "application/json" } })).json();
      const document_ = data.documents[0];
      if (data.status === "quarantined") { state.textContent = "Quarantined: " + (data.reason || ""); state.className = "state quarantined"; return; }
      if (data.status === "duplicate" || (data.status === "processed" && document_)) {
        const final = data.status === "duplicate" ? "duplicate" : (data.documents.some((d) => d.status === "needs_review") ? "needs_review" : "filed");
        state.textContent = labels[final];
        state.className = "state " + final;
        bar.value = bar.max;
        if (document_) {
          const link = document.createElement("a");
          link.href = document_.url;
          link.textContent = " open";
          state.appendChild(link);
        }
        return;
      }
      state.textContent = data.pages_total ? `Reading page ${data.pages_done} of ${data.pages_total}` : "Waiting to be read";
      if (data.pages_total) { bar.max = data.pages_total; bar.value = data.pages_done; }
      setTimeout(poll, 1500);
    };
    poll();
  }

  function send(file) {
    const row = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = file.name;
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = "Uploading";
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    row.append(name, state, bar);
    list.prepend(row);
    const form = new FormData();
    form.append("file", file);
    const request = new XMLHttpRequest();
    request.open("POST", zone.dataset.uploadUrl);
    request.setRequestHeader("X-CSRFToken", csrfToken());
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) bar.value = Math.round((100 * event.loaded) / event.total);
    });
    request.addEventListener("load", () => {
      let data = {};
      try { data = JSON.parse(request.responseText); } catch (error) { /* not JSON */ }
      if (request.status !== 201) { state.textContent = "Failed: " + (data.error || request.statusText); state.className = "state failed"; return; }
      if (!data.status_url) { state.textContent = "Quarantined: " + (data.reason || ""); state.className = "state quarantined"; return; }
      bar.value = 0;
      follow(data.status_url, row, state, bar);
    });
    request.addEventListener("error", () => { state.textContent = "Failed: the box did not answer"; state.className = "state failed"; });
    request.send(form);
  }

  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    [...event.dataTransfer.files].forEach(send);
  });
  document.getElementById("file-input").addEventListener("change", (event) => [...event.target.files].forEach(send));
}

document.addEventListener("DOMContentLoaded", () => {
  startSessionMonitor();
  startViewer();
  startUpload();
});
