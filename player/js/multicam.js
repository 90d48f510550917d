// Multi-camera view: recordings of one stage whose recording times overlap, side by side on one
// wall-clock timeline. The first camera that has footage at the current moment is the master;
// the others follow it with drift correction (rate nudges for small drift, a seek for large).
import { api } from "./api.js";
import { t } from "./i18n.js";
import { attachHls } from "./player.js";
import { clear, fmtDuration, fmtWall, h, itemDuration } from "./util.js";

const HARD_DRIFT_S = 0.25; // beyond this a follower seeks
const SOFT_DRIFT_S = 0.02; // beyond this a follower's rate is nudged
const NUDGE_MAX = 0.1; // at most ±10 % rate change while catching up
const COLORS = ["#e07a5f", "#3d9970", "#5fb3d9", "#f2cc8f", "#b388eb", "#81b29a"];

// Groups of recordings whose [start, end) intervals overlap (transitively).
export function overlapGroups(cams) {
  const sorted = [...cams].sort((a, b) => a.start - b.start);
  const groups = [];
  for (const c of sorted) {
    const g = groups[groups.length - 1];
    if (g && c.start < g.end) { g.cams.push(c); g.end = Math.max(g.end, c.end); } else groups.push({ cams: [c], start: c.start, end: c.end });
  }
  return groups;
}

export class Multicam {
  constructor(root, itemIds, { title = "", back = null } = {}) {
    this.root = root; this.itemIds = itemIds; this.title = title; this.back = back;
    this.cams = []; this.playing = false; this.rate = 1; this.T = 0; this.destroyed = false;
    this.lastFrame = null;
    window.custodianMulticam = this;
  }

  async mount() {
    clear(this.root, h("p.dim", t("loading")));
    const items = await Promise.all(this.itemIds.map((id) => api(`/api/v1/evidence/${id}`).catch(() => null)));
    const cams = items.filter((it) => it && it.links && it.links.hls && it.recorded_at && Number.isFinite(itemDuration(it)))
      .map((it) => ({ item: it, id: it.id, start: Date.parse(it.recorded_at), end: Date.parse(it.recorded_at) + itemDuration(it) * 1000 }));
    const groups = overlapGroups(cams).filter((g) => g.cams.length > 1);
    if (!groups.length) { clear(this.root, this.header(), h("p.empty#mc-none", t("mc_none"))); return this; }
    groups.sort((a, b) => b.cams.length - a.cams.length || a.start - b.start);
    this.group = groups[0];
    this.cams = this.group.cams;
    this.T0 = this.group.start; this.T1 = this.group.end; this.T = this.T0;
    this.render();
    this.loop = () => { if (this.destroyed) return; this.frame(); requestAnimationFrame(this.loop); };
    requestAnimationFrame(this.loop);
    return this;
  }

  header() {
    return h("div.toolbar", this.back ? h("a.button", { href: this.back }, `← ${t("back_to_case")}`) : null,
      h("h2", `${t("mc_title")}${this.title ? ` · ${this.title}` : ""}`));
  }

  render() {
    const cols = this.cams.length <= 4 ? 2 : 3;
    const grid = h("div.mc-grid", { style: { gridTemplateColumns: `repeat(${cols}, 1fr)` } });
    this.cams.forEach((cam, i) => {
      cam.video = h("video.mc-video", { playsInline: true, preload: "auto", muted: i > 0 });
      cam.video.muted = i > 0;
      cam.video.dataset.start = String(cam.start);
      cam.video.dataset.id = cam.id;
      cam.gap = h("div.mc-gap.hidden", t("mc_no_footage"));
      cam.drift = h("span.dim.mc-drift", "");
      cam.hls = attachHls(cam.video, cam.item.links.hls, { maxBufferLength: 10 });
      grid.append(h("div.mc-cell", { dataset: { id: cam.id } },
        h("div.mc-label", h("span.swatch", { style: { background: COLORS[i % COLORS.length] } }),
          `${cam.item.device_id || cam.item.original_filename}`, " ", h("span.dim", `${fmtWall(cam.start).slice(11)}–${fmtWall(cam.end).slice(11)}`), " ", cam.drift),
        h("div.mc-stage", cam.video, cam.gap)));
    });
    this.clock = h("span.wall#mc-clock", fmtWall(this.T, true));
    this.playBtn = h("button.primary#mc-play", { on: { click: () => this.toggle() } }, t("play"));
    this.head = h("div.mc-head");
    this.lanes = h("div.mc-lanes#mc-timeline", this.cams.map((cam, i) => h("div.mc-lane",
      h("div.mc-span", { style: { left: `${this.pct(cam.start)}%`, width: `${this.pct(cam.end) - this.pct(cam.start)}%`, background: COLORS[i % COLORS.length] } }))), this.head);
    this.lanes.addEventListener("mousedown", (e) => {
      const r = this.lanes.getBoundingClientRect();
      this.seek(this.T0 + Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)) * (this.T1 - this.T0));
    });
    const rate = h("select#mc-rate", { on: { change: () => { this.rate = Number(rate.value); } } },
      [0.5, 1, 2, 4].map((r) => h("option", { value: String(r), selected: r === 1 }, `${r}×`)));
    clear(this.root, this.header(), grid,
      h("div.controls", this.playBtn, h("span.clock", h("small", t("wall_time")), this.clock), h("label.inline", t("rate"), rate),
        h("span.dim", `${fmtWall(this.T0)} – ${fmtWall(this.T1).slice(11)} (${fmtDuration((this.T1 - this.T0) / 1000)})`)),
      h("div.mc-scale", h("small", t("mc_timeline"))), this.lanes);
    this.seek(this.T0);
  }

  pct(ms) { return ((ms - this.T0) / (this.T1 - this.T0)) * 100; }

  destroy() {
    this.destroyed = true;
    for (const cam of this.cams) if (cam.hls) cam.hls.destroy();
    if (window.custodianMulticam === this) window.custodianMulticam = null;
  }

  inRange(cam, T) { return T >= cam.start && T < cam.end - 1; }

  toggle() {
    this.playing = !this.playing;
    this.playBtn.textContent = this.playing ? t("pause") : t("play");
    this.lastFrame = null;
    if (!this.playing) for (const cam of this.cams) cam.video.pause();
    else this.apply(true);
  }

  play() { if (!this.playing) this.toggle(); }
  pause() { if (this.playing) this.toggle(); }

  // Seek every camera to one wall-clock moment (ms since the epoch).
  seek(T) {
    this.T = Math.min(this.T1, Math.max(this.T0, T));
    this.lastFrame = null;
    this.apply(true);
  }

  // Put each camera where the clock says: hard seek when forced or far off, rate nudge when near.
  apply(force) {
    const master = this.cams.find((c) => this.inRange(c, this.T));
    for (const cam of this.cams) {
      const v = cam.video;
      const local = (this.T - cam.start) / 1000;
      const inside = this.inRange(cam, this.T);
      cam.gap.classList.toggle("hidden", inside);
      cam.video.classList.toggle("dimmed", !inside);
      if (!inside) {
        if (!v.paused) v.pause();
        const park = local < 0 ? 0 : Math.max(0, (cam.end - cam.start) / 1000 - 0.05);
        if (force || Math.abs(v.currentTime - park) > 0.5) v.currentTime = park;
        cam.drift.textContent = "";
        continue;
      }
      const drift = v.currentTime - local;
      if (force || Math.abs(drift) > HARD_DRIFT_S) {
        v.currentTime = local;
        v.playbackRate = this.rate;
      } else if (cam !== master && Math.abs(drift) > SOFT_DRIFT_S) {
        const nudge = Math.max(-NUDGE_MAX, Math.min(NUDGE_MAX, -drift * 0.5));
        v.playbackRate = this.rate * (1 + nudge);
      } else {
        v.playbackRate = this.rate;
      }
      cam.drift.textContent = cam === master ? "●" : `${t("mc_drift")} ${(drift * 1000).toFixed(0)} ms`;
      if (this.playing && v.paused && !v.seeking) v.play().catch(() => {});
      if (!this.playing && !v.paused) v.pause();
    }
  }

  frame() {
    const now = performance.now();
    if (this.playing) {
      const master = this.cams.find((c) => this.inRange(c, this.T));
      if (master && !master.video.paused && !master.video.seeking && master.video.readyState >= 3) {
        // The clock follows the master's own media time, so a stalled master holds everyone.
        this.T = master.start + master.video.currentTime * 1000;
      } else if (!master && this.lastFrame != null) {
        this.T += (now - this.lastFrame) * this.rate; // a gap in every camera: the clock runs on
      }
      if (this.T >= this.T1) { this.T = this.T1; this.pause(); }
      this.apply(false);
    }
    this.lastFrame = now;
    this.clock.textContent = fmtWall(this.T, true);
    this.head.style.left = `${this.pct(this.T)}%`;
  }

  // Wall-clock position of each camera (for tests and the bench).
  positions() { return this.cams.map((c) => ({ id: c.id, wall: c.start + c.video.currentTime * 1000, paused: c.video.paused, inside: this.inRange(c, this.T) })); }
}
