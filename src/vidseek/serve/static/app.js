"use strict";
const $ = (id) => document.getElementById(id);
const fmt = (t) => {
  t = Math.max(0, t || 0);
  const m = Math.floor(t / 60), s = Math.floor(t % 60);
  return `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
};
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

function showLogin(needed) {
  $("login").hidden = !needed;
  $("drop").hidden = needed;
  if (needed) { $("stats").textContent = "log in to see the index"; $("token").focus(); }
}

async function login(e) {
  e.preventDefault();
  const body = new FormData();
  body.append("token", $("token").value);
  let r;
  try { r = await fetch("/api/login", { method: "POST", body }); } catch (err) { $("login-error").textContent = "The server did not answer."; return; }
  if (r.status !== 204) { $("login-error").textContent = r.status === 401 ? "Wrong token." : `Login failed (${r.status}).`; return; }
  $("token").value = ""; $("login-error").textContent = "";
  showLogin(false);
  loadStats();
}

async function loadStats() {
  try {
    const r = await fetch("/api/stats");
    if (r.status === 401) { showLogin(true); return; }
    const s = await r.json();
    $("stats").innerHTML = `<b>${s.videos}</b> videos · <b>${s.keyframes}</b> key frames · ` +
      `${(s.bytes / 1e6).toFixed(1)} MB · ${esc(s.backbone)} · PQ ${s.pq_m} B/frame`;
    window.maxUploadMb = s.max_upload_mb;
  } catch (e) { $("stats").textContent = "index statistics unavailable"; }
}

function setStatus(text, error = false) { $("status").textContent = text; $("status").className = error ? "error" : ""; }

async function search(file) {
  if (!file) return;
  if (window.maxUploadMb && file.size > window.maxUploadMb * 1048576) {
    setStatus(`${file.name} is larger than the ${window.maxUploadMb} MB limit`, true); return;
  }
  const preview = $("preview");
  if (file.type.startsWith("image/")) { preview.src = URL.createObjectURL(file); preview.hidden = false; } else { preview.hidden = true; }
  setStatus(`Searching with ${file.name}…`);
  $("dups").hidden = true;
  $("results").innerHTML = "";
  const body = new FormData();
  body.append("file", file, file.name || "pasted.png");
  body.append("k", $("k").value || "10");
  if ($("all").checked) body.append("all", "true");
  let r;
  try { r = await fetch("/api/search", { method: "POST", body }); } catch (e) { setStatus("The server did not answer.", true); return; }
  if (r.status === 401) { showLogin(true); setStatus("Log in with the server's token to search.", true); return; }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) { setStatus(data.detail || `Search failed (${r.status})`, true); return; }
  render(data);
}

function render(data) {
  const res = data.results || [];
  setStatus(res.length ? `${res.length} video${res.length > 1 ? "s" : ""} for ${data.query} (${data.kind}, ${data.took_ms} ms)`
    : `No match: nothing in the collection matches ${data.query || "this query"} (no result scores ${data.min_score ?? 0} or more; tick "show all" to see the closest videos).`);
  $("results").innerHTML = res.map((h, i) => `
    <button class="card" type="button" data-i="${i}" title="${esc(h.path)}">
      <img src="${h.thumbnail_url}" alt="key frame of ${esc(h.name)} at ${fmt(h.time)}" loading="lazy">
      <div class="meta">
        <div class="name"><span class="rank">${i + 1}</span>${esc(h.name)}</div>
        <div class="row"><span class="time">${fmt(h.time)}</span><span>score ${h.score.toFixed(3)}</span></div>
        <div class="bar"><i style="width:${Math.max(2, Math.min(100, 100 * h.score))}%"></i></div>
      </div>
    </button>`).join("");
  document.querySelectorAll(".card").forEach((c) => c.addEventListener("click", () => play(res[+c.dataset.i])));
}

async function showDuplicates() {
  $("results").innerHTML = "";
  const box = $("dups");
  box.hidden = false;
  box.innerHTML = "";
  setStatus("Comparing every video with every other (the first time after a change takes a while)…");
  let r;
  try { r = await fetch("/api/duplicates"); } catch (e) { setStatus("The server did not answer.", true); return; }
  if (r.status === 401) { showLogin(true); return; }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) { setStatus(data.detail || `Failed (${r.status})`, true); return; }
  const pairs = data.pairs || [];
  setStatus(pairs.length ? `${pairs.length} pair${pairs.length > 1 ? "s" : ""} of videos share footage (score ${data.min_score} or more)`
    : `No two videos share footage (no segment scores ${data.min_score} or more).`);
  const side = (v, url, t, label) => `
    <button class="side" type="button" data-id="${esc(v.id)}" data-t="${t}" title="${esc(v.path)}">
      ${url ? `<img src="${url}" alt="${label} ${esc(v.name)}" loading="lazy">` : ""}
      <span class="name">${esc(v.name)}</span></button>`;
  box.innerHTML = pairs.map((p, i) => {
    const s = p.segments[0];
    const times = p.segments.map((g) => `<li>${fmt(g.a_start)}–${fmt(g.a_end)} in A ↔ ${fmt(g.b_start)}–${fmt(g.b_end)} in B · score ${g.score.toFixed(3)}</li>`).join("");
    return `<article class="pair" data-i="${i}">
      <div class="sides">${side(p.a, s.a_thumbnail_url, s.a_start, "A:")}${side(p.b, s.b_thumbnail_url, s.b_start, "B:")}</div>
      <div class="meta"><span>score ${p.score.toFixed(3)}</span><ul>${times}</ul></div></article>`;
  }).join("");
  const videos = Object.fromEntries(pairs.flatMap((p) => [[p.a.id, p.a], [p.b.id, p.b]]));
  box.querySelectorAll(".side").forEach((b) => b.addEventListener("click",
    () => play({ ...videos[b.dataset.id], time: parseFloat(b.dataset.t) })));
}

function play(h) {
  const v = $("video");
  $("player-title").textContent = `${h.name} — ${fmt(h.time)}`;
  $("player-note").textContent = "";
  v.src = h.stream_url;
  v.onloadedmetadata = () => { v.currentTime = h.time; v.play().catch(() => {}); };
  v.onerror = () => { $("player-note").textContent = "This browser cannot play this file's format; the match is at " + fmt(h.time) + "."; };
  $("player").showModal();
}

function init() {
  const drop = $("drop");
  $("pick").addEventListener("click", () => $("file").click());
  $("file").addEventListener("change", (e) => search(e.target.files[0]));
  ["dragenter", "dragover"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => search(e.dataTransfer.files[0]));
  document.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData || {}).items || []].find((i) => i.kind === "file");
    if (item) search(item.getAsFile());
  });
  $("login").addEventListener("submit", login);
  $("show-dups").addEventListener("click", showDuplicates);
  $("close").addEventListener("click", () => { $("video").pause(); $("player").close(); });
  $("player").addEventListener("close", () => $("video").pause());
  loadStats();
}
init();
