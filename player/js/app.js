// The reviewer UI: a hash router over a few views. Every byte comes from /api/v1.
import { api, blobUrl, clearSession, login, qs, session } from "./api.js";
import { ENFORCEMENT_TYPES, STAGES, getLang, label, setLang, t, vocab } from "./i18n.js";
import { Multicam } from "./multicam.js";
import { Player, parseVtt } from "./player.js";
import { statusLabel } from "./viewers.js";
import { UploadView } from "./upload.js";
import { custodyButton } from "./custody.js";
import { viewEvidenceList, withItemExtras } from "./evidence.js";
import { NAV, VIEWS, setRerender } from "./views.js";
import "./features.js";
import { clear, fmtDate, fmtDuration, fmtSize, h, itemDuration, shortHash, toast } from "./util.js";

const main = () => document.getElementById("main");
let current = null; // the mounted view with a destroy()

const UPLOAD_ROLES = new Set(["officer", "station", "reviewer", "legal", "admin"]);
const READ_ROLES = new Set(["officer", "reviewer", "legal", "supervisor", "admin"]);

function route() {
  const raw = location.hash.replace(/^#/, "") || "/cases";
  const [path, query] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query || "") };
}

function renderChrome() {
  const s = session();
  const nav = document.getElementById("nav");
  document.title = `Custodian · ${t("app_title")}`;
  clear(document.getElementById("brand"), h("b", "Custodian"), " ", h("span.dim", t("app_title")));
  const here = route().parts[0] || "cases";
  const link = (href, key, name) => h("a", { href, class: here === key ? "active" : "" }, name);
  clear(nav,
    s && READ_ROLES.has(s.role) ? link("#/cases", "cases", t("nav_cases")) : null,
    s && READ_ROLES.has(s.role) ? link("#/evidence", "evidence", t("nav_evidence")) : null,
    s && UPLOAD_ROLES.has(s.role) ? link("#/upload", "upload", t("nav_upload")) : null,
    ...NAV.filter((n) => s && (!n.roles || n.roles.includes(s.role))).map((n) => link(n.href, n.key, t(n.label))),
    h("span.spacer"),
    h("button.link#lang-switch", { on: { click: () => { setLang(getLang() === "en" ? "zh-CN" : "en"); render(); } } }, t("lang_switch")),
    s ? h("span.dim#whoami", `${s.username} (${label("role", s.role)})`) : null,
    s ? h("button.link#logout", { on: { click: () => { clearSession(); location.hash = "#/login"; } } }, t("logout")) : null);
}

async function render() {
  if (current && current.destroy) current.destroy();
  current = null;
  const { parts, params } = route();
  if (!session() && parts[0] !== "login") { location.hash = "#/login"; return; }
  renderChrome();
  // Each render writes into its own container, so a slow earlier view cannot overwrite a newer one.
  const root = h("div.view", h("p.dim", t("loading")));
  clear(main(), root);
  try {
    if (parts[0] === "login") return viewLogin(root);
    if (VIEWS.has(parts[0])) { current = (await VIEWS.get(parts[0])(root, parts, params)) || null; return; }
    if (parts[0] === "cases" && parts[1] && parts[2] === "multicam") {
      return await viewCaseMulticam(root, parts[1], parts[3]);
    }
    if (parts[0] === "cases" && parts[1]) return await viewCase(root, parts[1]);
    if (parts[0] === "cases") return await viewCases(root, params);
    if (parts[0] === "evidence" && parts[1]) {
      const t0 = params.get("t");
      const player = new Player(root, parts[1], { caseId: params.get("case"), startTime: t0 ? Number(t0) : null }).mount();
      current = withItemExtras(root, parts[1], player, params.get("case"));
      return;
    }
    if (parts[0] === "evidence") { current = await viewEvidenceList(root, params); return; }
    if (parts[0] === "multicam") {
      current = await new Multicam(root, (params.get("items") || "").split(",").filter(Boolean)).mount();
      return;
    }
    if (parts[0] === "upload") { current = new UploadView(root).mount(); return; }
    clear(root, h("p", "404"));
  } catch (e) {
    clear(root, h("div.banner.unplayable", `${t("error")}: ${e.message}`));
  }
}

// -- login --------------------------------------------------------------------------------
function viewLogin(root) {
  const user = h("input#login-username", { type: "text", autocomplete: "username", required: true });
  const pass = h("input#login-password", { type: "password", autocomplete: "current-password", required: true });
  const err = h("div.error#login-error");
  const form = h("form.panel.login#login-form", {
    on: {
      submit: async (e) => {
        e.preventDefault(); err.textContent = "";
        try {
          const s = await login(user.value.trim(), pass.value);
          location.hash = UPLOAD_ROLES.has(s.role) && !READ_ROLES.has(s.role) ? "#/upload" : "#/cases";
        } catch (ex) { err.textContent = ex.status === 401 ? t("login_failed") : ex.message; }
      },
    },
  }, h("h2", t("login_title")), h("label", t("username"), user), h("label", t("password"), pass), err,
  h("button.primary#login-submit", { type: "submit" }, t("login")));
  clear(root, form);
  user.focus();
}

// -- case list ------------------------------------------------------------------------------
const caseField = (c, ...names) => { for (const n of names) if (c[n] !== undefined && c[n] !== null && c[n] !== "") return c[n]; return ""; };
const names = (v) => (Array.isArray(v) ? v.map((o) => (typeof o === "string" ? o : o.name || o.code || "")).join("、") : v || "");

async function viewCases(root, params) {
  const f = Object.fromEntries(["q", "enforcement_type", "status", "stage", "from", "to", "cursor"].map((k) => [k, params.get(k) || ""]));
  const prev = (params.get("prev") || "").split(",").filter((x) => x !== "");
  const q = h("input#case-q", { type: "search", value: f.q, placeholder: t("search_placeholder") });
  const sel = (id, kind, values, value) => h(`select#${id}`, h("option", { value: "" }, t("all")), values.map((v) => h("option", { value: v, selected: v === value }, label(kind, v))));
  const type = sel("case-type", "enforcement_type", ENFORCEMENT_TYPES, f.enforcement_type);
  const status = sel("case-status", "case_status", vocab("case_status"), f.status);
  const stage = sel("case-stage", "stage", STAGES, f.stage);
  const from = h("input#case-from", { type: "date", value: f.from });
  const to = h("input#case-to", { type: "date", value: f.to });
  const go = (extra = {}) => {
    const p = { q: q.value.trim(), enforcement_type: type.value, status: status.value, stage: stage.value, from: from.value, to: to.value, ...extra };
    location.hash = `#/cases${qs(p)}`;
  };
  const form = h("form.filters#case-filters", { on: { submit: (e) => { e.preventDefault(); go(); } } },
    q, h("label.inline", t("filter_type"), type), h("label.inline", t("filter_status"), status), h("label.inline", t("filter_stage"), stage),
    h("label.inline", t("filter_from"), from), h("label.inline", t("filter_to"), to),
    h("button.primary#case-search", { type: "submit" }, t("search")), h("button", { type: "button", on: { click: () => { location.hash = "#/cases"; } } }, t("reset")));
  const apiQuery = { ...f, from: f.from ? `${f.from}T00:00:00Z` : "", to: f.to ? `${f.to}T23:59:59Z` : "", limit: 25 };
  const page = await api(`/api/v1/cases${qs(apiQuery)}`);
  const rows = page.items.map((c) => h("tr.case-row", { dataset: { id: c.id } },
    h("td", h("a.case-link", { href: `#/cases/${c.id}` }, caseField(c, "number"))),
    h("td", caseField(c, "title")),
    h("td", label("enforcement_type", c.enforcement_type)),
    h("td", names(caseField(c, "party", "party_name", "parties"))),
    h("td", names(caseField(c, "officers", "officer_names", "handler"))),
    h("td", label("stage", c.current_stage)),
    h("td", label("case_status", c.status)),
    h("td", fmtDate(caseField(c, "opened_at", "created_at")))));
  const cur = f.cursor;
  const pager = h("div.pager",
    h("button#page-prev", { disabled: !prev.length, on: { click: () => { const p = [...prev]; const back = p.pop(); go({ cursor: back === "-" ? "" : back, prev: p.join(",") }); } } }, t("prev_page")),
    h("button#page-next", { disabled: !page.next, on: { click: () => go({ cursor: page.next, prev: [...prev, cur || "-"].join(",") }) } }, t("next_page")));
  clear(root, h("h2", t("nav_cases")), form,
    h("table.grid#case-table", h("tr", [t("case_number"), t("case_title"), t("filter_type"), t("party"), t("officers"), t("current_stage"), t("status"), t("opened_at")].map((x) => h("th", x))),
      rows.length ? rows : h("tr", h("td.empty", { colSpan: 8 }, t("no_cases")))), pager);
}

// -- one case ---------------------------------------------------------------------------------
const detailCache = new Map();
function itemDetail(id) {
  if (!detailCache.has(id)) detailCache.set(id, api(`/api/v1/evidence/${id}`).catch((e) => { detailCache.delete(id); throw e; }));
  return detailCache.get(id);
}

// A footage card: first trickplay tile as thumbnail, duration, recording time.
function itemCard(item, caseId) {
  const id = item.id || item.evidence_id;
  const thumb = h("div.thumb");
  const dur = h("span.dur", "");
  const card = h("a.card.item-link", { href: `#/evidence/${id}${caseId ? `?case=${caseId}` : ""}`, dataset: { id } },
    thumb, h("div.card-body", h("div.card-title", item.original_filename || id), h("div.dim", fmtDate(item.recorded_at)),
      h("div.dim", item.device_id || ""), h("div", dur, " ", h("span.badge", statusLabel(item)))));
  itemDetail(id).then(async (d) => {
    dur.textContent = fmtDuration(itemDuration(d));
    if (d.links && d.links.thumbnails) {
      const cues = parseVtt(await (await api(d.links.thumbnails, { raw: true })).text());
      const c = cues[Math.min(cues.length - 1, 1)] || cues[0];
      if (!c) return;
      const url = await blobUrl(`/api/v1/evidence/${id}/${c.sheet}`);
      const scale = 96 / c.w;
      Object.assign(thumb.style, { backgroundImage: `url("${url}")`, backgroundPosition: `-${c.x * scale}px -${c.y * scale}px`, width: `${c.w * scale}px`, height: `${c.h * scale}px` });
      const img = new Image();
      img.onload = () => { thumb.style.backgroundSize = `${img.width * scale}px ${img.height * scale}px`; };
      img.src = url;
    } else if (d.links && (d.links.thumbnail || d.links.preview)) {
      // A photo's thumbnail is scaled to fit the card, never cropped.
      thumb.classList.add("fit");
      thumb.style.backgroundImage = `url("${await blobUrl(d.links.thumbnail || d.links.preview)}")`;
    }
  }).catch(() => {});
  return card;
}

function findingEl(f) {
  return h(`li.finding.${f.severity || "info"}`, h("span.badge", t(`severity_${f.severity || "info"}`) || f.severity), " ",
    h("b", f.article ? (getLang() === "en" ? `Art. ${String(f.article).replace(/^Art\.?\s*/, "")} ` : `第${String(f.article).replace(/^Art\.?\s*/, "")}条 `) : ""), f.message_zh && getLang() !== "en" ? f.message_zh : f.message || f.rule);
}

async function viewCase(root, caseId) {
  const [c, compliance, proposals] = await Promise.all([
    api(`/api/v1/cases/${caseId}`),
    api(`/api/v1/cases/${caseId}/compliance`).catch(() => null),
    api(`/api/v1/cases/${caseId}/proposals`).catch(() => ({ items: [] })),
  ]);
  const findings = (compliance && compliance.findings) || c.findings || [];
  const stages = c.stages || [];
  const byStage = Object.fromEntries(stages.map((s) => [s.stage, s]));
  const linkedIds = new Set(stages.flatMap((s) => (s.items || []).map((i) => i.id || i.evidence_id)));
  const timeline = h("ol.stages#stage-timeline", STAGES.map((id) => {
    const s = byStage[id] || { stage: id, records: [], items: [] };
    const sf = findings.filter((f) => f.stage === id);
    const videos = (s.items || []).filter((i) => !i.kind || i.kind === "video");
    return h(`li.stage-col${c.current_stage === id ? ".current" : ""}`, { dataset: { stage: id } },
      h("h3", h("span.step", String(STAGES.indexOf(id) + 1)), getLang() === "en" ? label("stage", id) : (s.label_zh || label("stage", id))),
      h("h4", `${t("records")} (${(s.records || []).length})`),
      h("ul.records", (s.records || []).length ? s.records.map((r) => h("li", h("b", r.title || r.doc_type || r.kind || ""), " ", h("span.dim", fmtDate(r.time || r.at || r.created_at)),
        r.signature_status === "refused" ? h("span.badge.warn", getLang() === "en" ? "Refused to sign" : "拒签") : null)) : h("li.dim", t("no_records"))),
      h("h4", `${t("footage")} (${(s.items || []).length})`,
        videos.length > 1 ? h("a.button.small.mc-link", { href: `#/cases/${caseId}/multicam/${id}` }, t("multicam")) : null),
      h("div.cards", (s.items || []).length ? s.items.map((i) => itemCard(i, caseId)) : h("p.dim", t("no_footage"))),
      sf.length ? h("ul.findings", sf.map(findingEl)) : null);
  }));
  const general = findings.filter((f) => !f.stage || !STAGES.includes(f.stage));
  const unlinkedBox = h("div#unlinked");
  clear(root,
    h("div.toolbar", h("a.button", { href: "#/cases" }, `← ${t("nav_cases")}`),
      h("h2#case-title", `${c.number || ""} ${c.title || ""}`),
      h("span.badge", label("enforcement_type", c.enforcement_type)), h("span.badge", label("procedure", c.procedure)),
      h("span.badge", label("case_status", c.status)), c.current_stage ? h("span.dim", `${t("current_stage")}: ${label("stage", c.current_stage)}`) : null,
      custodyButton("case", caseId, root)),
    h("div.case-meta.dim", [names(caseField(c, "party", "party_name", "parties")), names(caseField(c, "officers", "officer_names"))].filter(Boolean).join(" · ")),
    timeline,
    h("div.case-bottom",
      h("section.panel#findings", h("h3", t("findings")), findings.length ? h("ul.findings", findings.map(findingEl)) : h("p.ok", t("no_findings")),
        general.length && general.length !== findings.length ? null : null),
      h("section.panel", h("h3", t("unlinked")), unlinkedBox)));
  renderUnlinked(unlinkedBox, caseId, linkedIds, (proposals && proposals.items) || []);
}

async function renderUnlinked(box, caseId, linkedIds, proposals) {
  let items = [];
  try { items = (await api(`/api/v1/evidence${qs({ unlinked: 1, limit: 50 })}`)).items; } catch (e) { items = []; }
  items = items.filter((i) => !linkedIds.has(i.id) && (!i.links || !i.links.length) && (i.cases === undefined || !i.cases.length));
  const proposalFor = new Map(proposals.map((p) => [p.evidence_id, p]));
  const propRows = proposals.filter((p) => !linkedIds.has(p.evidence_id));
  const row = (it, p) => {
    const stageSel = h("select.link-stage", STAGES.map((s) => h("option", { value: s, selected: p && p.stage === s }, label("stage", s))));
    const btn = h("button.link-btn", {
      on: {
        click: async () => {
          btn.disabled = true;
          try {
            await api(`/api/v1/cases/${caseId}/links`, { method: "POST", body: { evidence_id: it.id || p.evidence_id, stage: stageSel.value } });
            toast(t("linked_ok"), "ok"); render();
          } catch (e) { toast(e.message, "error"); btn.disabled = false; }
        },
      },
    }, t("link"));
    return h("tr.unlinked-row", { dataset: { id: it.id || p.evidence_id } },
      h("td", h("a", { href: `#/evidence/${it.id || p.evidence_id}?case=${caseId}` }, it.original_filename || shortHash(it.sha256) || p.evidence_id)),
      h("td", fmtDate(it.recorded_at)), h("td", it.device_id || ""), h("td", fmtSize(it.size)),
      h("td", p ? h("span.badge.proposal", `${t("proposals")}: ${label("stage", p.stage)}${p.reason ? ` · ${p.reason}` : ""}`) : ""),
      h("td", t("link_to"), " ", stageSel, " ", btn));
  };
  const seen = new Set();
  const rows = [];
  for (const p of propRows) { const it = items.find((i) => i.id === p.evidence_id) || p.item || { id: p.evidence_id }; seen.add(p.evidence_id); rows.push(row(it, p)); }
  for (const it of items) if (!seen.has(it.id)) rows.push(row(it, proposalFor.get(it.id)));
  clear(box, rows.length ? h("table.grid#unlinked-table", rows) : h("p.dim", t("no_items")));
}

async function viewCaseMulticam(root, caseId, stageId) {
  const c = await api(`/api/v1/cases/${caseId}`);
  const s = (c.stages || []).find((x) => x.stage === stageId) || { items: [] };
  const ids = (s.items || []).map((i) => i.id || i.evidence_id);
  current = await new Multicam(root, ids, { title: `${c.number || ""} · ${label("stage", stageId)}`, back: `#/cases/${caseId}` }).mount();
}

setRerender(render);
window.addEventListener("hashchange", render);
render();
