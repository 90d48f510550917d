// DOM and formatting helpers shared by the views.
import { getLang } from "./i18n.js";

// h("div.cls#id", {attrs, on: {click}}, children...) — builds elements without innerHTML.
export function h(tag, attrs, ...children) {
  const m = tag.match(/^([a-z0-9]+)((?:[.#][\w-]+)*)$/i);
  const el = document.createElement(m ? m[1] : tag);
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === ".") el.classList.add(part.slice(1)); else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs); attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "style") Object.assign(el.style, v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}
export function clear(el, ...children) { el.replaceChildren(); append(el, children); return el; }

export function fmtMedia(s, ms = true) {
  if (!Number.isFinite(s)) s = 0;
  const neg = s < 0; s = Math.abs(s);
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = Math.floor(s % 60);
  const frac = Math.floor((s % 1) * 1000);
  const base = `${String(hh).padStart(2, "0")}:${String(mm).padStart(2, "0")}:${String(ss).padStart(2, "0")}`;
  return (neg ? "-" : "") + (ms ? `${base}.${String(frac).padStart(3, "0")}` : base);
}
export function fmtDuration(s) {
  if (!Number.isFinite(s)) return "—";
  return s >= 3600 ? fmtMedia(s, false) : fmtMedia(s, false).slice(3);
}
// Wall-clock time in the browser's zone, with milliseconds when asked.
export function fmtWall(ms, withMs = false) {
  if (!Number.isFinite(ms)) return "—";
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  const s = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return withMs ? `${s}.${p(d.getMilliseconds(), 3)}` : s;
}
export function fmtDate(iso) { return iso ? fmtWall(Date.parse(iso)) : "—"; }
export function fmtSize(n) {
  if (!Number.isFinite(n)) return "—";
  const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}
export function itemDuration(item) {
  const p = item && item.probe;
  if (p && Number.isFinite(p.duration_s)) return p.duration_s;
  return Number.isFinite(item && item.duration_s) ? item.duration_s : NaN;
}
export function itemFps(item) {
  const p = item && item.probe;
  const v = p && (p.streams || []).find((s) => s.type === "video");
  return (v && (v.avg_frame_rate || v.real_frame_rate)) || 25;
}
export function shortHash(x) { return x ? `${x.slice(0, 12)}…` : "—"; }
export function toast(msg, kind = "info") {
  const box = document.getElementById("toasts");
  const el = h(`div.toast.${kind}`, msg);
  box.append(el);
  setTimeout(() => el.remove(), 4000);
}
export function localeCompare(a, b) { return String(a).localeCompare(String(b), getLang()); }
