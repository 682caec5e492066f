// Dashboard: the figures refresh from a small JSON endpoint every few seconds (while the tab is
// visible), without reloading the page; times read as "3 minutes ago" and keep ageing.
"use strict";

function ago(iso) {
  if (!iso) return "never";
  const moment = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  const seconds = (Date.now() - moment.getTime()) / 1000;
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return minutes === 1 ? "1 minute ago" : `${minutes} minutes ago`;
  const hours = Math.round(seconds / 3600);
  if (hours < 24) return hours === 1 ? "1 hour ago" : `${hours} hours ago`;
  const days = Math.round(seconds / 86400);
  return days === 1 ? "yesterday" : `${days} days ago`;
}

function valueAt(figures, path) {
  return path.split(".").reduce((node, key) => (node == null ? undefined : node[key]), figures);
}

function showProcessing(list, jobs) {
  list.replaceChildren();
  jobs.forEach((job) => {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = job.name;
    const bar = document.createElement("progress");
    bar.max = job.pages_total || 1;
    bar.value = job.pages_done;
    item.append(name, " ", bar, ` ${job.pages_done}/${job.pages_total || "?"} pages`);
    list.appendChild(item);
  });
  if (!jobs.length) {
    const idle = document.createElement("li");
    idle.className = "muted";
    idle.textContent = "Nothing is being processed.";
    list.appendChild(idle);
  }
}

function showFigures(figures) {
  document.querySelectorAll("[data-figure]").forEach((node) => {
    let value = valueAt(figures, node.dataset.figure);
    if (value === undefined) return;
    if (node.dataset.unit === "gb") value = (value / 1e9).toFixed(1);
    node.textContent = value === null || value === "" ? node.dataset.empty || "" : value;
  });
  document.querySelectorAll("[data-figure-time]").forEach((node) => {
    const value = valueAt(figures, node.dataset.figureTime);
    if (value) node.setAttribute("datetime", value);
  });
  const bar = document.getElementById("disk-bar");
  if (bar) bar.value = figures.disk.percent;
  showProcessing(document.getElementById("processing"), figures.processing);
  const updated = document.querySelector("#dashboard-updated time");
  if (updated) updated.setAttribute("datetime", figures.as_of);
  document.getElementById("dashboard-updated").classList.remove("stale");
}

function ageTimes() {
  document.querySelectorAll("time[data-ago]").forEach((node) => { node.textContent = ago(node.getAttribute("datetime")); });
}

function startLiveDashboard() {
  const tiles = document.getElementById("dashboard");
  if (!tiles) return;
  const refresh = async () => {
    if (document.hidden) return;
    try {
      const response = await fetch(tiles.dataset.url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      showFigures(await response.json());
    } catch (error) {
      document.getElementById("dashboard-updated").classList.add("stale");
    }
    ageTimes();
  };
  ageTimes();
  setInterval(refresh, 4000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
}

document.addEventListener("DOMContentLoaded", startLiveDashboard);
