import { getLang } from "./i18n.js";
// The only way the page talks to the server: /api/v1 with the bearer token.
const KEY = "custodian.session";

export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
    if (s && s.token && Date.parse(s.expires_at) > Date.now()) return s;
  } catch (e) { /* fall through */ }
  return null;
}
export function token() { const s = session(); return s ? s.token : ""; }
export function setSession(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); }
export function clearSession() { sessionStorage.removeItem(KEY); }

export class ApiError extends Error {
  constructor(status, body) {
    // `message` is the server's text in the interface's language; `error` the English diagnostic.
    super((body && (body.message || body.error)) || (getLang() === "en" ? `Server error (HTTP ${status})` : `服务器错误（HTTP ${status}）`));
    this.status = status; this.code = body && body.code; this.params = body && body.params; this.body = body;
  }
}

export async function api(path, { method = "GET", body, raw = false } = {}) {
  // The server renders error and finding messages in the interface's language.
  const headers = { Authorization: `Bearer ${token()}`, "Accept-Language": getLang() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401 && !path.endsWith("/auth/login")) {
    clearSession();
    location.hash = "#/login";
  }
  if (raw) {
    if (r.ok) return r;
    let err = null;
    try { err = await r.json(); } catch (e) { err = null; }
    throw new ApiError(r.status, err);
  }
  let data = null;
  const text = await r.text();
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text }; }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// Media the browser cannot fetch with a header by itself (sprites, images) become blob URLs.
const blobCache = new Map();
export function blobUrl(path) {
  if (!blobCache.has(path)) {
    blobCache.set(path, api(path, { raw: true }).then((r) => r.blob()).then((b) => URL.createObjectURL(b))
      .catch((e) => { blobCache.delete(path); throw e; }));
  }
  return blobCache.get(path);
}

export async function login(username, password) {
  const r = await fetch("/api/v1/auth/login", {
    method: "POST", headers: { "Content-Type": "application/json", "Accept-Language": getLang() },
    body: JSON.stringify({ username, password }),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, data);
  setSession({ ...data, username });
  return data;
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : "";
}
