// The item player: hls.js with the bearer token, trickplay on hover, waveform, wall clock,
// frame stepping, keyboard shortcuts, bookmarks and clips for the export basket.
import { api, blobUrl, token } from "./api.js";
import { t } from "./i18n.js";
import { clear, fmtDate, fmtDuration, fmtMedia, fmtSize, fmtWall, h, itemDuration, itemFps, toast } from "./util.js";
import { attemptRows, gpsAt, loadTextTrack, mountAudio, mountDocument, mountPhoto, photoRows, statusLabel } from "./viewers.js";

const RATES = [0.25, 0.5, 1, 1.5, 2, 4, 8];

// hls.js tuned for evidence review on a LAN: no bandwidth probe, the first fragment fetched
// while the init segment is parsed, a moderate forward buffer and a back buffer for scrubbing.
export function hlsConfig(extra = {}) {
  return {
    xhrSetup: (xhr) => xhr.setRequestHeader("Authorization", `Bearer ${token()}`),
    enableWorker: true,
    startFragPrefetch: true,
    testBandwidth: false,
    startLevel: 0,
    maxBufferLength: 20,
    maxMaxBufferLength: 60,
    backBufferLength: 60,
    maxBufferHole: 0.3,
    fragLoadPolicy: {
      default: { maxTimeToFirstByteMs: 10000, maxLoadTimeMs: 60000,
        timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
        errorRetry: { maxNumRetry: 2, retryDelayMs: 300, maxRetryDelayMs: 2000 } },
    },
    ...extra,
  };
}

// Attach an HLS source to a <video>; native HLS only where MSE is missing.
export function attachHls(video, url, extra = {}) {
  if (window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls(hlsConfig(extra));
    hls.loadSource(url);
    hls.attachMedia(video);
    return hls;
  }
  video.src = url; // no way to add the header here; only for browsers without MSE
  return null;
}

export function parseVtt(text) {
  const cues = [];
  const ts = (s) => { const p = s.trim().split(":").map(Number); return p.length === 3 ? p[0] * 3600 + p[1] * 60 + p[2] : p[0] * 60 + p[1]; };
  for (const block of text.replace(/\r/g, "").split("\n\n")) {
    const lines = block.split("\n").filter(Boolean);
    const i = lines.findIndex((l) => l.includes("-->"));
    if (i < 0 || !lines[i + 1]) continue;
    const [a, b] = lines[i].split("-->");
    const [sheet, frag] = lines[i + 1].trim().split("#xywh=");
    const [x, y, w, hh] = (frag || "0,0,0,0").split(",").map(Number);
    cues.push({ start: ts(a), end: ts(b.trim().split(" ")[0]), sheet, x, y, w, h: hh });
  }
  return cues;
}

export class Player {
  constructor(root, itemId, { caseId = null, startTime = null } = {}) {
    this.root = root; this.itemId = itemId; this.caseId = caseId; this.startTime = startTime;
    this.item = null; this.cues = []; this.peaks = null; this.bookmarks = []; this.clips = [];
    this.clipIn = null; this.clipOut = null; this.hls = null; this.destroyed = false;
    this.base = `/api/v1/evidence/${itemId}`;
    this.onKey = this.onKey.bind(this);
    window.custodianPlayer = this;
  }

  mount() {
    const v = this.video = h("video#video", { playsInline: true, preload: "auto", crossOrigin: null });
    v.muted = false;
    this.timeline = h("div.timeline#timeline", { title: "" },
      this.bufEl = h("div.tl-buffered"), this.progEl = h("div.tl-progress"),
      this.rangeEl = h("div.tl-clip"), this.marksEl = h("div.tl-marks"), this.headEl = h("div.tl-head"));
    this.trick = h("div.trick#trick", this.trickImg = h("div.trick-img"), this.trickTime = h("div.trick-time"));
    this.wave = h("canvas.wave#waveform", { width: 1200, height: 48 });
    this.timeEl = h("span.time#media-time", "00:00:00.000");
    this.durEl = h("span.time.dim#media-duration", "");
    this.wallEl = h("span.wall#wall-time", "—");
    this.frameEl = h("span.dim#frame-no", "");
    this.playBtn = h("button.primary#btn-play", { on: { click: () => this.toggle() } }, t("play"));
    this.rateSel = h("select#rate", { on: { change: () => { v.playbackRate = Number(this.rateSel.value); } } },
      RATES.map((r) => h("option", { value: String(r), selected: r === 1 }, `${r}×`)));
    this.inEl = h("span.dim#clip-in-val", "—"); this.outEl = h("span.dim#clip-out-val", "—");
    this.banner = h("div#item-banner");
    this.info = h("div.panel#item-info");
    this.bmList = h("ul.list#bookmark-list");
    this.bmNote = h("input#bookmark-note", { type: "text", placeholder: t("note"), maxLength: 2000,
      on: { keydown: (e) => { if (e.key === "Enter") { e.preventDefault(); this.saveBookmark(); } } } });
    this.clipName = h("input#clip-name", { type: "text", placeholder: t("clip_name"), maxLength: 200 });
    this.basketList = h("ul.list#basket-list");

    this.cueEl = h("div.cue.hidden#subtitle-cue");
    this.gpsEl = h("span.gps.dim#gps-now", "");
    const stage = this.stage = h("div.stage", v, this.cueEl, this.overlay = h("div.overlay.hidden#overlay"));
    clear(this.root,
      h("div.player-layout",
        h("section.player-main",
          this.banner, stage,
          this.scrubEl = h("div.scrub", this.trick, this.timeline, this.wave),
          this.ctrlMain = h("div.controls",
            h("button#btn-frame-back", { title: t("frame_back"), on: { click: () => this.step(-1) } }, `◀ ${t("frame_back")}`),
            this.playBtn,
            h("button#btn-frame-fwd", { title: t("frame_fwd"), on: { click: () => this.step(1) } }, `${t("frame_fwd")} ▶`),
            h("span.clock", h("small", t("media_time")), this.timeEl, " / ", this.durEl, this.frameEl),
            h("span.clock", h("small", t("wall_time")), this.wallEl), this.gpsEl,
            h("label.inline", t("rate"), this.rateSel)),
          this.ctrlClip = h("div.controls",
            h("button#btn-clip-in", { on: { click: () => this.markIn() } }, `[ ${t("clip_in")}`), this.inEl,
            h("button#btn-clip-out", { on: { click: () => this.markOut() } }, `${t("clip_out")} ]`), this.outEl,
            this.clipName,
            h("button#btn-add-clip", { on: { click: () => this.addClip() }, disabled: !this.caseId }, t("add_to_basket")),
            h("button#btn-bookmark", { on: { click: () => this.openBookmark() } }, `B ${t("add_bookmark")}`)),
          this.hintEl = h("p.hint", t("shortcuts"))),
        h("aside.player-side",
          this.info,
          h("div.panel.bm-panel", h("h3", t("bookmarks")),
            h("div.row", this.bmNote, h("button#btn-save-bookmark", { on: { click: () => this.saveBookmark() } }, t("add_bookmark"))),
            this.bmList),
          h("div.panel.basket-panel", h("h3", t("basket")), this.caseId ? this.basketList : h("p.dim", t("basket_needs_case"))))));

    this.bindVideo(); this.bindTimeline();
    document.addEventListener("keydown", this.onKey);
    // Start loading the playlist at once, in parallel with the item's details.
    this.hls = attachHls(v, `${this.base}/hls/index.m3u8`);
    if (this.hls) this.bindHls();
    this.load();
    return this;
  }

  destroy() {
    this.destroyed = true;
    document.removeEventListener("keydown", this.onKey);
    if (this.hls) this.hls.destroy();
    if (this.resizeObs) this.resizeObs.disconnect();
    if (window.custodianPlayer === this) window.custodianPlayer = null;
  }

  async load() {
    try {
      this.item = await api(this.base);
    } catch (e) { this.showError(e.message); return; }
    if (this.destroyed) return;
    this.fps = itemFps(this.item);
    this.recordedMs = this.item.recorded_at ? Date.parse(this.item.recorded_at) : NaN;
    this.renderInfo(); this.renderBanner(); this.updateTime();
    const links = this.item.links || {};
    const kind = this.item.kind;
    this.root.dataset.kind = kind || "";
    if (kind === "photo") { mountPhoto(this, links); return; }
    if (!["video", "audio"].includes(kind) && !links.hls) { mountDocument(this); return; }
    if (kind === "audio" && links.hls) mountAudio(this);
    if (links.subtitles) loadTextTrack(this, links.subtitles, links.gps);
    if (!links.hls && this.hls) { this.hls.destroy(); this.hls = null; this.showOverlay(this.item.kind === "video" ? t("not_processed") : t("no_video")); }
    // Sprites and the waveform wait for the first frame: on a long item they are many requests
    // that would otherwise queue before the first media segment (6 connections per host).
    this.afterFirstFrame(() => {
      if (links.thumbnails) this.loadTrickplay(links.thumbnails);
      if (links.waveform) api(links.waveform).then((w) => { this.peaks = w; this.drawWave(); }).catch(() => {});
    });
    this.loadBookmarks();
    if (this.caseId) this.loadBasket();
  }

  afterFirstFrame(fn) {
    if (this.firstFrame || !this.hls) { fn(); return; }
    let done = false;
    const run = () => { if (!done && !this.destroyed) { done = true; fn(); } };
    this.video.addEventListener("loadeddata", run, { once: true });
    setTimeout(run, 1500);
  }

  showError(msg) { this.showOverlay(`${t("error")}: ${msg}`); }
  showOverlay(msg) { this.overlay.textContent = msg; this.overlay.classList.remove("hidden"); }

  bindHls() {
    const Hls = window.Hls;
    this.hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
      this.hlsDuration = data.details.totalduration;
      this.renderBanner();
      if (this.startTime != null) { this.video.currentTime = this.startTime; this.startTime = null; }
    });
    this.hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      (window.__hlsFatal = window.__hlsFatal || []).push(data.details); // read by the browser tests
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) { this.hls.recoverMediaError(); return; }
      if (data.response && data.response.code === 404) return; // not processed: load() explains
      this.showError(data.details);
    });
  }

  bindVideo() {
    const v = this.video;
    const markFirst = () => { this.firstFrame = true; if (!window.__firstFrameAt) window.__firstFrameAt = performance.now(); };
    if (v.requestVideoFrameCallback) v.requestVideoFrameCallback(markFirst); else v.addEventListener("loadeddata", markFirst, { once: true });
    v.addEventListener("timeupdate", () => this.updateTime());
    v.addEventListener("seeked", () => this.updateTime());
    v.addEventListener("durationchange", () => { this.updateTime(); this.renderMarks(); this.drawWave(); });
    v.addEventListener("play", () => { this.playBtn.textContent = t("pause"); this.tick(); });
    v.addEventListener("pause", () => { this.playBtn.textContent = t("play"); this.updateTime(); });
    v.addEventListener("progress", () => this.updateBuffered());
    v.addEventListener("click", () => this.toggle());
  }

  tick() {
    if (this.destroyed || this.video.paused) return;
    this.updateTime();
    requestAnimationFrame(() => this.tick());
  }

  duration() {
    const d = this.video.duration;
    if (Number.isFinite(d) && d > 0) return d;
    if (Number.isFinite(this.hlsDuration)) return this.hlsDuration;
    return itemDuration(this.item);
  }

  updateTime() {
    const ct = this.video.currentTime, d = this.duration();
    this.timeEl.textContent = fmtMedia(ct);
    this.durEl.textContent = Number.isFinite(d) ? fmtMedia(d, false) : "—";
    this.frameEl.textContent = ` · ${t("frame")} ${Math.floor(ct * (this.fps || 25) + 1e-6)}`;
    this.wallEl.textContent = Number.isFinite(this.recordedMs) ? fmtWall(this.recordedMs + ct * 1000, true) : "—";
    if (this.textCues) gpsAt(this, ct);
    if (this.audioMain) this.drawWave();
    const pct = Number.isFinite(d) && d > 0 ? Math.min(100, (ct / d) * 100) : 0;
    this.progEl.style.width = `${pct}%`;
    this.headEl.style.left = `${pct}%`;
  }

  updateBuffered() {
    const b = this.video.buffered, d = this.duration();
    if (!b.length || !Number.isFinite(d)) return;
    this.bufEl.style.width = `${Math.min(100, (b.end(b.length - 1) / d) * 100)}%`;
  }

  // -- timeline: hover shows the trickplay tile, click/drag seeks -----------------------
  timeAt(clientX, el = this.timeline) {
    const r = el.getBoundingClientRect();
    const frac = Math.min(1, Math.max(0, (clientX - r.left) / r.width));
    return frac * (this.duration() || 0);
  }

  bindTimeline() {
    const hover = (e) => this.showTrick(this.timeAt(e.clientX), e.clientX);
    const seekTo = (e) => this.seek(this.timeAt(e.clientX));
    for (const el of [this.timeline, this.wave]) {
      el.addEventListener("mousemove", hover);
      el.addEventListener("mouseleave", () => this.trick.classList.remove("show"));
      el.addEventListener("mousedown", (e) => {
        seekTo(e);
        const move = (ev) => { seekTo(ev); hover(ev); };
        const up = () => { window.removeEventListener("mousemove", move); window.removeEventListener("mouseup", up); };
        window.addEventListener("mousemove", move); window.addEventListener("mouseup", up);
      });
    }
    this.resizeObs = new ResizeObserver(() => this.drawWave());
    this.resizeObs.observe(this.wave);
  }

  async loadTrickplay(url) {
    try {
      const text = await (await api(url, { raw: true })).text();
      this.cues = parseVtt(text);
      // Fetch the sheets now (with the token) so hovering is instant.
      for (const sheet of new Set(this.cues.map((c) => c.sheet))) blobUrl(`${this.base}/${sheet}`);
    } catch (e) { this.cues = []; }
  }

  cueAt(time) {
    return this.cues.find((c) => time >= c.start && time < c.end) || (this.cues.length && time >= this.cues[this.cues.length - 1].start ? this.cues[this.cues.length - 1] : null);
  }

  async showTrick(time, clientX) {
    const r = this.timeline.getBoundingClientRect();
    const cue = this.cueAt(time);
    this.trickTime.textContent = fmtMedia(time, false) + (Number.isFinite(this.recordedMs) ? `  ${fmtWall(this.recordedMs + time * 1000).slice(11)}` : "");
    const w = cue ? cue.w : 120;
    this.trick.style.left = `${Math.min(r.width - w, Math.max(0, clientX - r.left - w / 2))}px`;
    this.trick.dataset.time = time.toFixed(3);
    this.trick.classList.add("show");
    if (!cue) { this.trickImg.style.display = "none"; return; }
    this.trickImg.style.display = "block";
    Object.assign(this.trickImg.style, { width: `${cue.w}px`, height: `${cue.h}px`, backgroundPosition: `${-cue.x}px ${-cue.y}px` });
    this.trick.dataset.sheet = cue.sheet;
    this.trick.dataset.xywh = `${cue.x},${cue.y},${cue.w},${cue.h}`;
    const url = await blobUrl(`${this.base}/${cue.sheet}`);
    if (this.trick.dataset.sheet === cue.sheet) this.trickImg.style.backgroundImage = `url("${url}")`;
  }

  drawWave() {
    const c = this.wave, d = this.duration();
    const w = Math.max(200, Math.round(c.clientWidth * (window.devicePixelRatio || 1)));
    if (c.width !== w) c.width = w;
    const ctx = c.getContext("2d"), H = c.height, mid = H / 2;
    ctx.clearRect(0, 0, c.width, H);
    ctx.fillStyle = "#1d2733"; ctx.fillRect(0, 0, c.width, H);
    if (!this.peaks || !this.peaks.peaks || !this.peaks.peaks.length) return;
    const peaks = this.peaks.pps || this.peaks.peaks_per_second || 20;
    const total = Number.isFinite(d) && d > 0 ? d : this.peaks.duration;
    ctx.fillStyle = "#5fb3d9";
    // Scaled to the loudest peak so quiet recordings stay visible (display only).
    if (!this.peakGain) {
      let m = 0.05;
      for (const p of this.peaks.peaks) m = Math.max(m, -p[0], p[1]);
      this.peakGain = 1 / m;
    }
    const gain = this.peakGain;
    for (let x = 0; x < c.width; x++) {
      const a = Math.floor((x / c.width) * total * peaks), b = Math.max(a + 1, Math.floor(((x + 1) / c.width) * total * peaks));
      let lo = 0, hi = 0;
      for (let i = a; i < b && i < this.peaks.peaks.length; i++) { lo = Math.min(lo, this.peaks.peaks[i][0]); hi = Math.max(hi, this.peaks.peaks[i][1]); }
      ctx.fillRect(x, mid - hi * gain * mid, 1, Math.max(1, (hi - lo) * gain * mid));
    }
    if (this.audioMain && Number.isFinite(total) && total > 0) {
      const x = Math.round((this.video.currentTime / total) * c.width);
      ctx.fillStyle = "rgba(31,111,235,.25)"; ctx.fillRect(0, 0, x, H);
      ctx.fillStyle = "#ffffff"; ctx.fillRect(x - 1, 0, 2, H);
    }
  }

  // -- transport --------------------------------------------------------------------------
  toggle() { if (this.video.paused) this.video.play().catch(() => {}); else this.video.pause(); }

  seek(time) {
    const d = this.duration();
    this.video.currentTime = Math.max(0, Number.isFinite(d) ? Math.min(time, d - 0.001) : time);
    this.updateTime();
  }

  // One frame exactly: land in the middle of the target frame so rounding cannot pick its neighbour.
  step(n) {
    const v = this.video, fps = this.fps || 25;
    if (!v.paused) v.pause();
    const frame = Math.floor(v.currentTime * fps + 1e-6) + n;
    const last = Math.floor((this.duration() || 0) * fps) - 1;
    v.currentTime = (Math.max(0, Math.min(frame, last)) + 0.5) / fps;
  }

  onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = (e.target && e.target.tagName) || "";
    if (["INPUT", "TEXTAREA", "SELECT"].includes(tag)) return;
    const v = this.video;
    const handled = {
      " ": () => this.toggle(),
      k: () => v.pause(),
      l: () => { if (v.paused) { v.playbackRate = 1; v.play().catch(() => {}); } else v.playbackRate = Math.min(8, v.playbackRate * 2); this.rateSel.value = String(v.playbackRate); },
      // Browsers cannot play backwards: J jumps back (further with each press while playing).
      j: () => { v.playbackRate = 1; this.rateSel.value = "1"; this.seek(v.currentTime - 5); },
      ArrowLeft: () => (v.paused ? this.step(-1) : this.seek(v.currentTime - 5)),
      ArrowRight: () => (v.paused ? this.step(1) : this.seek(v.currentTime + 5)),
      "[": () => this.markIn(),
      "]": () => this.markOut(),
      b: () => this.openBookmark(),
    }[e.key.length === 1 ? e.key.toLowerCase() : e.key];
    if (handled) { e.preventDefault(); handled(); }
  }

  // -- clips --------------------------------------------------------------------------
  markIn() { this.clipIn = this.video.currentTime; if (this.clipOut != null && this.clipOut <= this.clipIn) this.clipOut = null; this.renderClip(); }
  markOut() { this.clipOut = this.video.currentTime; if (this.clipIn != null && this.clipIn >= this.clipOut) this.clipIn = null; this.renderClip(); }
  renderClip() {
    this.inEl.textContent = this.clipIn == null ? "—" : fmtMedia(this.clipIn);
    this.outEl.textContent = this.clipOut == null ? "—" : fmtMedia(this.clipOut);
    const d = this.duration();
    if (this.clipIn == null || !Number.isFinite(d)) { this.rangeEl.style.display = "none"; return; }
    const a = this.clipIn, b = this.clipOut == null ? this.video.currentTime : this.clipOut;
    Object.assign(this.rangeEl.style, { display: "block", left: `${(a / d) * 100}%`, width: `${Math.max(0.3, ((b - a) / d) * 100)}%` });
  }

  async addClip() {
    if (!this.caseId) return;
    if (this.clipIn == null || this.clipOut == null) { toast(`${t("clip_in")} / ${t("clip_out")}?`, "warn"); return; }
    const name = this.clipName.value.trim() || `${this.item ? this.item.original_filename : "clip"} ${fmtMedia(this.clipIn, false)}`;
    try {
      await api(`/api/v1/cases/${this.caseId}/basket`, { method: "POST", body: { evidence_id: this.itemId, in_s: this.clipIn, out_s: this.clipOut, name } });
      toast(t("saved"), "ok"); this.clipName.value = "";
      this.loadBasket();
    } catch (e) { toast(e.message, "error"); }
  }

  async loadBasket() {
    try { this.clips = (await api(`/api/v1/cases/${this.caseId}/basket`)).items; } catch (e) { this.clips = []; }
    clear(this.basketList, this.clips.length ? this.clips.map((c) => h("li", { dataset: { clipId: String(c.id) } },
      h("b", c.name), " ", h("span.dim", `${fmtMedia(c.in_s)} – ${fmtMedia(c.out_s)}`),
      c.evidence_id === this.itemId ? h("button.link", { on: { click: () => this.seek(c.in_s) } }, t("jump")) : null))
      : h("li.dim", t("basket_empty")));
  }

  // -- bookmarks ----------------------------------------------------------------------
  openBookmark() {
    this.pendingBookmark = this.video.currentTime;
    this.bmNote.placeholder = `${t("note")} @ ${fmtMedia(this.pendingBookmark)}`;
    this.bmNote.focus();
  }

  async saveBookmark() {
    const time = this.pendingBookmark != null ? this.pendingBookmark : this.video.currentTime;
    try {
      await api(`${this.base}/bookmarks`, { method: "POST", body: { time_s: Math.round(time * 1000) / 1000, note: this.bmNote.value } });
      this.bmNote.value = ""; this.pendingBookmark = null; this.bmNote.placeholder = t("note");
      toast(`${t("saved")} · ${t("view_ledger")}`, "ok");
      await this.loadBookmarks();
    } catch (e) { toast(e.message, "error"); }
  }

  async loadBookmarks() {
    try { this.bookmarks = (await api(`${this.base}/bookmarks`)).items; } catch (e) { this.bookmarks = []; }
    clear(this.bmList, this.bookmarks.length ? this.bookmarks.map((b) => h("li.bookmark", { dataset: { time: String(b.time_s), id: String(b.id) } },
      h("button.link.jump", { on: { click: () => this.seek(b.time_s) } }, fmtMedia(b.time_s)),
      " ", h("span.note", b.note || "—"), " ", h("span.dim", `${b.username} · #${b.ledger_seq ?? ""}`)))
      : h("li.dim", t("no_bookmarks")));
    this.renderMarks();
  }

  renderMarks() {
    const d = this.duration();
    clear(this.marksEl, Number.isFinite(d) && d > 0 ? this.bookmarks.map((b) => h("div.tl-mark", { title: b.note, style: { left: `${(b.time_s / d) * 100}%` } })) : []);
  }

  // -- item info and damage ------------------------------------------------------------
  renderInfo() {
    const it = this.item;
    const rows = [
      [t("filename"), it.original_filename], [t("item_status"), statusLabel(it)],
      [t("recorded_at"), fmtDate(it.recorded_at)],
      ...(["photo", "document"].includes(it.kind) ? [] : [[t("duration"), fmtDuration(itemDuration(it))]]),
      [t("device"), it.device_id || "—"], [t("officer"), it.officer_id || "—"],
      [t("size"), fmtSize(it.size)], [t("sha256"), h("code.hash", { title: it.sha256 }, it.sha256)],
      ...photoRows(it), ...attemptRows(it),
    ];
    clear(this.info, h("h3", it.original_filename), h("dl.kv", rows.map(([k, v]) => [h("dt", k), h("dd", v)])));
  }

  renderBanner() {
    const it = this.item;
    if (!it || !["damaged", "unplayable"].includes(it.status)) { clear(this.banner); return; }
    const reason = (document.documentElement.lang !== "en" && it.status_reason_zh) || it.status_reason || it.status_reason_zh || "";
    const orig = itemDuration(it);
    clear(this.banner, h(`div.banner.${it.status}`,
      h("strong", it.status === "damaged" ? t("damaged_title") : t("unplayable_title")),
      h("div", `${t("reason")}: ${reason}`),
      it.status === "damaged" ? h("div#recovered", `${t("recovered")}: ${fmtDuration(this.hlsDuration)}` + (Number.isFinite(orig) ? ` · ${t("original_duration")}: ${fmtDuration(orig)}` : "")) : null));
  }
}
