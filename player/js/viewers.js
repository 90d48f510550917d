// Items that are not video: photos in an image viewer (zoom, pan, upright per EXIF), audio with
// its waveform as the main view, documents (PDF) in the browser's own viewer; and the text track
// of a recording (subtitles / dashcam GPS) as a toggle with position and speed beside the time.
import { api, blobUrl } from "./api.js";
import { addStrings, addVocab, label, t } from "./i18n.js";
import { clear, h, toast } from "./util.js";

addStrings({
  "zh-CN": {
    photo_zoom_in: "放大", photo_zoom_out: "缩小", photo_fit: "适应窗口", photo_actual: "原始大小",
    photo_taken_at: "拍摄时间", photo_gps: "拍摄位置", photo_camera: "拍摄设备", photo_orientation: "方向校正",
    photo_orientation_applied: "已按 EXIF 方向校正", photo_orientation_none: "无需校正",
    original_download: "下载原始文件", document_hint: "文档在浏览器内置的查看器中打开；原始文件未作任何改动。",
    document_not_pdf: "此类文件无法在浏览器中预览，请下载原始文件查看。",
    subtitles_toggle: "字幕/GPS", subtitles_on: "字幕/GPS：开", subtitles_off: "字幕/GPS：关",
    gps_speed: "速度", audio_view: "录音波形", no_preview: "没有预览", rendition_path: "播放版本生成",
  },
  en: {
    photo_zoom_in: "Zoom in", photo_zoom_out: "Zoom out", photo_fit: "Fit", photo_actual: "Actual size",
    photo_taken_at: "Taken at", photo_gps: "Location", photo_camera: "Camera", photo_orientation: "Orientation",
    photo_orientation_applied: "Corrected per EXIF", photo_orientation_none: "Upright as stored",
    original_download: "Download original", document_hint: "The document opens in the browser's own viewer; the original is unchanged.",
    document_not_pdf: "This file cannot be previewed in the browser; download the original to open it.",
    subtitles_toggle: "Subtitles/GPS", subtitles_on: "Subtitles/GPS: on", subtitles_off: "Subtitles/GPS: off",
    gps_speed: "Speed", audio_view: "Audio waveform", no_preview: "No preview", rendition_path: "Playback version",
  },
});
// Photos are viewed, not played; documents are kept.
addVocab({
  item_status_photo: { ready: ["可查看", "Viewable"], unplayable: ["无法查看", "Cannot be shown"] },
  item_status_document: { stored: ["已保存", "Stored"], ready: ["可查看", "Viewable"] },
  rendition_step: {
    copy: ["直接封装", "stream copy"], "copy-genpts": ["重建时间戳后封装", "copy with generated timestamps"],
    "reencode-video": ["视频重新编码", "video re-encoded"], "reencode-audio": ["音频重新编码", "audio re-encoded"],
    reencode: ["全部重新编码", "full re-encode"], audio: ["音频转码", "audio encoded"],
    "audio-genpts": ["重建时间戳后音频转码", "audio encoded with generated timestamps"],
  },
});

/** The fallback chain the item's rendition went through, each step passed (✓) or not (✗). */
export function attemptRows(item) {
  const attempts = (item && item.attempts) || [];
  if (!attempts.length) return [];
  return [[t("rendition_path"), h("span#rendition-path", attempts.map((a) => `${label("rendition_step", a.step)} ${a.passed ? "✓" : "✗"}`).join(" → "))]];
}

/** The status of an item in words that fit its kind (可查看 for a photo, not 可播放). */
export function statusLabel(item) {
  const kind = item && item.kind;
  const special = kind === "photo" ? "item_status_photo" : kind === "document" ? "item_status_document" : null;
  if (special) {
    const text = label(special, item.status);
    if (text && text !== item.status) return text;
  }
  return label("item_status", item && item.status);
}

function fmtCoord(lat, lon) {
  const ns = lat >= 0 ? "N" : "S", ew = lon >= 0 ? "E" : "W";
  return `${ns}${Math.abs(lat).toFixed(5)} ${ew}${Math.abs(lon).toFixed(5)}`;
}

/** Extra rows of the info panel for a photo (EXIF). */
export function photoRows(item) {
  const p = item && item.photo;
  if (!p) return [];
  const rows = [];
  // As the camera's clock showed it, with its UTC offset when EXIF gives one.
  if (p.taken_at) rows.push([t("photo_taken_at"), h("span#photo-taken", p.taken_at.slice(0, 19).replace("T", " ") + (p.taken_at.length > 19 ? ` (UTC${p.taken_at.slice(19)})` : ""))]);
  if (p.gps_lat != null && p.gps_lon != null) rows.push([t("photo_gps"), h("span#photo-gps", fmtCoord(p.gps_lat, p.gps_lon) + (p.gps_alt_m != null ? ` · ${p.gps_alt_m} m` : ""))]);
  if (p.make || p.model) rows.push([t("photo_camera"), [p.make, p.model].filter(Boolean).join(" ")]);
  rows.push([t("photo_orientation"), p.orientation && p.orientation !== 1 ? `${t("photo_orientation_applied")} (${p.orientation})` : t("photo_orientation_none")]);
  return rows;
}

function hidePlaybackChrome(player) {
  for (const el of [player.scrubEl, player.ctrlMain, player.ctrlClip, player.hintEl]) if (el) el.classList.add("hidden");
  // Bookmarks and clips are points and spans in time: nothing to mark on a still or a page.
  for (const el of player.root.querySelectorAll(".bm-panel, .basket-panel")) el.classList.add("hidden");
  if (player.hls) { player.hls.destroy(); player.hls = null; }
  document.removeEventListener("keydown", player.onKey);
}

// -- photo ------------------------------------------------------------------------------
export function mountPhoto(player, links) {
  hidePlaybackChrome(player);
  const img = h("img#photo", { alt: player.item.original_filename || "", draggable: false });
  const viewer = h("div.photo-viewer#photo-viewer", img);
  const zoomEl = h("span.dim#photo-zoom", "");
  const st = { scale: 1, x: 0, y: 0, fit: 1 };
  const apply = () => {
    img.style.transform = `translate(${st.x}px, ${st.y}px) scale(${st.scale})`;
    zoomEl.textContent = `${Math.round(st.scale * 100)}%`;
    viewer.dataset.scale = st.scale.toFixed(4);
  };
  const fit = () => {
    const w = img.naturalWidth, hh = img.naturalHeight;
    if (!w || !hh) return;
    const r = viewer.getBoundingClientRect();
    st.fit = Math.min(r.width / w, r.height / hh, 1);
    st.scale = st.fit;
    st.x = (r.width - w * st.scale) / 2; st.y = (r.height - hh * st.scale) / 2;
    apply();
  };
  const zoomAt = (factor, cx, cy) => {
    const r = viewer.getBoundingClientRect();
    const px = cx === undefined ? r.width / 2 : cx - r.left, py = cy === undefined ? r.height / 2 : cy - r.top;
    const next = Math.min(16, Math.max(st.fit * 0.5, st.scale * factor));
    st.x = px - ((px - st.x) * next) / st.scale; st.y = py - ((py - st.y) * next) / st.scale;
    st.scale = next; apply();
  };
  viewer.addEventListener("wheel", (e) => { e.preventDefault(); zoomAt(e.deltaY < 0 ? 1.2 : 1 / 1.2, e.clientX, e.clientY); }, { passive: false });
  viewer.addEventListener("mousedown", (e) => {
    e.preventDefault();
    const sx = e.clientX - st.x, sy = e.clientY - st.y;
    const move = (ev) => { st.x = ev.clientX - sx; st.y = ev.clientY - sy; apply(); };
    const up = () => { window.removeEventListener("mousemove", move); window.removeEventListener("mouseup", up); };
    window.addEventListener("mousemove", move); window.addEventListener("mouseup", up);
  });
  viewer.addEventListener("dblclick", (e) => { if (st.scale > st.fit * 1.01) fit(); else zoomAt(2, e.clientX, e.clientY); });
  img.addEventListener("load", () => { fit(); viewer.dataset.loaded = "1"; });
  clear(player.stage, viewer, player.overlay);
  player.stage.classList.add("photo-stage");
  player.stage.after(h("div.controls#photo-controls",
    h("button", { dataset: { action: "photo-zoom-out" }, on: { click: () => zoomAt(1 / 1.25) } }, `− ${t("photo_zoom_out")}`),
    h("button", { dataset: { action: "photo-zoom-in" }, on: { click: () => zoomAt(1.25) } }, `+ ${t("photo_zoom_in")}`),
    h("button", { dataset: { action: "photo-fit" }, on: { click: fit } }, t("photo_fit")),
    h("button", { dataset: { action: "photo-actual" }, on: { click: () => { const k = 1 / st.scale; zoomAt(k); } } }, t("photo_actual")),
    zoomEl, downloadButton(player)));
  const src = links.preview || links.thumbnail;
  if (!src) { player.showOverlay(t("no_preview")); return; }
  blobUrl(src).then((url) => { img.src = url; }).catch((e) => player.showError(e.message));
  const ro = new ResizeObserver(() => { if (st.scale === st.fit) fit(); });
  ro.observe(viewer);
  player.resizeObs = player.resizeObs || ro;
}

function downloadButton(player) {
  return h("button#btn-original-download", { dataset: { action: "original-download" }, on: { click: () => downloadOriginal(player) } }, t("original_download"));
}

async function downloadOriginal(player) {
  try {
    const r = await api(`${player.base}/original`, { raw: true });
    const url = URL.createObjectURL(await r.blob());
    const a = h("a", { href: url, download: player.item.original_filename || "original" });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (e) { toast(e.message, "error"); }
}

// -- document (PDF) ---------------------------------------------------------------------
function isPdf(item) {
  const name = (item.original_filename || "").toLowerCase();
  return name.endsWith(".pdf");
}

export async function mountDocument(player) {
  hidePlaybackChrome(player);
  const it = player.item;
  player.stage.classList.add("doc-stage");
  const bar = h("div.controls#doc-controls", h("span.dim", isPdf(it) ? t("document_hint") : t("document_not_pdf")), downloadButton(player));
  player.stage.after(bar);
  if (!isPdf(it)) { clear(player.stage, h("div.doc-empty#doc-viewer", t("document_not_pdf"))); return; }
  clear(player.stage, player.overlay);
  try {
    const r = await api(`${player.base}/original`, { raw: true });
    const bytes = await r.arrayBuffer();
    if (player.destroyed) return;
    // The browser's PDF viewer needs the type; the bytes are the original's, unchanged.
    const blob = new Blob([bytes], { type: "application/pdf" });
    const url = URL.createObjectURL(blob);
    player.docUrl = url;
    const head = String.fromCharCode(...new Uint8Array(bytes.slice(0, 5)));
    clear(player.stage, h("iframe.doc-frame#doc-viewer", { src: url, title: it.original_filename || "PDF",
      dataset: { bytes: String(bytes.byteLength), type: blob.type, head } }), player.overlay);
  } catch (e) { player.showError(e.message); }
}

// -- audio ------------------------------------------------------------------------------
export function mountAudio(player) {
  player.audioMain = true;
  player.video.classList.add("hidden");
  player.wave.classList.add("wave-main");
  player.wave.height = 220;
  player.stage.classList.add("audio-stage");
  player.stage.prepend(h("div.audio-title", `${t("audio_view")} · ${player.item.original_filename || ""}`), player.wave);
  for (const id of ["#btn-frame-back", "#btn-frame-fwd", "#frame-no"]) {
    const el = player.root.querySelector(id);
    if (el) el.classList.add("hidden");
  }
  player.drawWave();
}

// -- text track (subtitles / GPS) -------------------------------------------------------
function parseCues(text) {
  const ts = (s) => { const p = s.trim().split(":").map(Number); return p.length === 3 ? p[0] * 3600 + p[1] * 60 + p[2] : p[0] * 60 + p[1]; };
  const cues = [];
  for (const block of text.replace(/\r/g, "").split("\n\n")) {
    const lines = block.split("\n");
    const i = lines.findIndex((l) => l.includes("-->"));
    if (i < 0) continue;
    const [a, b] = lines[i].split("-->");
    cues.push({ start: ts(a), end: ts(b.trim().split(" ")[0]), text: lines.slice(i + 1).join("\n").trim() });
  }
  return cues;
}

export async function loadTextTrack(player, vttUrl, gpsUrl) {
  try {
    player.textCues = parseCues(await (await api(vttUrl, { raw: true })).text());
  } catch (e) { player.textCues = []; return; }
  if (gpsUrl) { try { player.gpsPoints = (await api(gpsUrl)).points || []; } catch (e) { player.gpsPoints = []; } }
  player.showCues = true;
  const btn = h("button#btn-subtitles", { dataset: { action: "subtitles-toggle" }, "aria-pressed": "true" }, t("subtitles_on"));
  btn.addEventListener("click", () => {
    player.showCues = !player.showCues;
    btn.textContent = player.showCues ? t("subtitles_on") : t("subtitles_off");
    btn.setAttribute("aria-pressed", String(player.showCues));
    gpsAt(player, player.video.currentTime);
  });
  player.ctrlMain.append(btn);
  gpsAt(player, player.video.currentTime);
}

/** Show the cue at time t over the picture and the GPS position/speed beside the clock. */
export function gpsAt(player, time) {
  const at = (list) => (list || []).find((c) => time >= (c.start ?? c.t) && time < (c.end ?? c.t + 1));
  const cue = at(player.textCues);
  const show = player.showCues && cue;
  player.cueEl.textContent = show ? cue.text : "";
  player.cueEl.classList.toggle("hidden", !show);
  const p = player.showCues ? at(player.gpsPoints) : null;
  player.gpsEl.textContent = p ? `${fmtCoord(p.lat, p.lon)}${p.speed_kmh != null ? ` · ${t("gps_speed")} ${p.speed_kmh} km/h` : ""}` : "";
}
