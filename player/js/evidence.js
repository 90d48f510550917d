// The evidence list (音像记录) with server-side filters, processing progress that updates by
// itself, original download and custody history; and the toolbar of the item page.
import { api, qs } from "./api.js";
import { addStrings, label, t, vocab } from "./i18n.js";
import { custodyButton } from "./custody.js";
import { isPending, progressEl, watchItems } from "./processing.js";
import { statusLabel } from "./viewers.js";
import { rerender } from "./views.js";
import { clear, fmtDate, fmtSize, h, shortHash, toast } from "./util.js";

addStrings({
  "zh-CN": {
    ev_filter: "筛选", ev_officer: "执法人员", ev_unit: "科室/中队", ev_device: "执法记录仪编号", ev_station: "采集站",
    ev_from: "录制时间起", ev_to: "录制时间止", ev_kind: "类型", ev_status: "处理状态",
    ev_unlinked: "仅显示未关联案件的", ev_filename: "文件名", ev_download: "下载原始文件",
    ev_actions: "操作", ev_cases: "关联案件", ev_downloading: "正在下载原始文件…", ev_count: "本页 {n} 条",
  },
  en: {
    ev_filter: "Filter", ev_officer: "Officer", ev_unit: "Unit", ev_device: "Body camera no.", ev_station: "Station",
    ev_from: "Recorded from", ev_to: "Recorded to", ev_kind: "Kind", ev_status: "Status",
    ev_unlinked: "Only items linked to no case", ev_filename: "File name", ev_download: "Download original",
    ev_actions: "Actions", ev_cases: "Cases", ev_downloading: "Downloading the original…", ev_count: "{n} on this page",
  },
});

ensureStyles();

function ensureStyles() {
  if (document.getElementById("evidence-ui-css")) return;
  document.head.append(h("link#evidence-ui-css", { rel: "stylesheet", href: "/player/evidence-ui.css" }));
}

const FILTERS = ["filename", "officer_id", "unit", "device_id", "station_id", "recorded_from", "recorded_to", "kind", "status", "unlinked"];

/** Download the original through the API (the server ledgers it); the browser saves the file. */
export async function downloadOriginal(item) {
  toast(t("ev_downloading"));
  try {
    // Fetched each time (not cached): every download is an act the server ledgers.
    const r = await api(`/api/v1/evidence/${item.id}/original`, { raw: true });
    const url = URL.createObjectURL(await r.blob());
    const a = h("a", { href: url, download: item.original_filename || `${item.id}` });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (e) { toast(e.message, "error"); }
}

export function downloadButton(item, small = true) {
  return h(`button.original-download${small ? ".small" : ""}`, {
    type: "button", dataset: { action: "original-download", id: item.id },
    on: { click: () => downloadOriginal(item) },
  }, t("ev_download"));
}

function statusCell(it) {
  return h("td.status-cell", h("span.badge", { dataset: { status: it.status } }, statusLabel(it)),
    isPending(it) ? [" ", progressEl(it)] : null);
}

// Local date (yyyy-mm-dd) -> the start or end of that day in the browser's time zone, as UTC.
// Anything that is not a date goes to the server as it is, which names the problem.
const localDay = (d, time) => {
  if (!d) return "";
  const at = new Date(`${d}T${time}`);
  return Number.isNaN(at.getTime()) ? d : at.toISOString();
};
const dayStart = (d) => localDay(d, "00:00:00");
const dayEnd = (d) => localDay(d, "23:59:59.999");

// Suggestions from the registry (officers by code, cameras by serial, units); free text still works.
function registryLists() {
  const officers = h("datalist#ev-officers");
  const devices = h("datalist#ev-devices");
  const units = h("datalist#ev-units");
  api("/api/v1/officers?limit=200").then((r) => {
    const items = r.items || [];
    clear(officers, items.map((o) => h("option", { value: o.code || "" }, [o.name, o.unit].filter(Boolean).join(" · "))));
    clear(units, [...new Set(items.map((o) => o.unit).filter(Boolean))].map((u) => h("option", { value: u })));
  }).catch(() => {});
  api("/api/v1/devices?limit=200").then((r) => {
    clear(devices, (r.items || []).map((d) => h("option", { value: d.serial || "" }, [d.officer_name, d.model].filter(Boolean).join(" · "))));
  }).catch(() => {});
  return [officers, devices, units];
}

/** #/evidence?filters…: the list; returns an object with destroy() (stops the polling). */
export async function viewEvidenceList(root, params) {
  const f = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || ""]));
  const cursor = params.get("cursor") || "";
  const input = (name, attrs = {}) => h(`input#ev-${name.replace(/_/g, "-")}`, { name, value: f[name], ...attrs });
  const select = (name, kind) => h(`select#ev-${name}`, { name },
    h("option", { value: "" }, t("all")), vocab(kind).map((v) => h("option", { value: v, selected: v === f[name] }, label(kind, v))));
  const fields = {
    filename: input("filename", { type: "search", maxLength: 100 }),
    officer_id: input("officer_id", { type: "text", maxLength: 100, list: "ev-officers" }),
    unit: input("unit", { type: "text", maxLength: 100, list: "ev-units" }),
    device_id: input("device_id", { type: "text", maxLength: 100, list: "ev-devices" }),
    station_id: input("station_id", { type: "text", maxLength: 100 }),
    recorded_from: input("recorded_from", { type: "date" }),
    recorded_to: input("recorded_to", { type: "date" }),
    kind: select("kind", "kind"),
    status: select("status", "item_status"),
    unlinked: h("input#ev-unlinked", { type: "checkbox", name: "unlinked", value: "1", checked: f.unlinked === "1" }),
  };
  const go = (extra = {}) => {
    const p = {};
    for (const k of FILTERS) p[k] = k === "unlinked" ? (fields.unlinked.checked ? "1" : "") : fields[k].value.trim();
    location.hash = `#/evidence${qs({ ...p, ...extra })}`;
  };
  const form = h("form.filters.ev-filters#evidence-filters", { on: { submit: (e) => { e.preventDefault(); go(); } } },
    h("label.inline", t("ev_filename"), fields.filename),
    h("label.inline", t("ev_officer"), fields.officer_id),
    h("label.inline", t("ev_unit"), fields.unit),
    h("label.inline", t("ev_device"), fields.device_id),
    h("label.inline", t("ev_station"), fields.station_id),
    h("label.inline", t("ev_from"), fields.recorded_from),
    h("label.inline", t("ev_to"), fields.recorded_to),
    h("label.inline", t("ev_kind"), fields.kind),
    h("label.inline", t("ev_status"), fields.status),
    h("label.inline.check", fields.unlinked, t("ev_unlinked")),
    h("button.primary#evidence-filter", { type: "submit", dataset: { action: "evidence-filter" } }, t("ev_filter")),
    h("button#evidence-reset", { type: "button", on: { click: () => { location.hash = "#/evidence"; } } }, t("reset")),
    registryLists());
  const apiQuery = { ...f, recorded_from: dayStart(f.recorded_from), recorded_to: dayEnd(f.recorded_to), cursor, limit: 50 };
  const page = await api(`/api/v1/evidence${qs(apiQuery)}`);
  const selected = new Set();
  const mcBtn = h("button#evidence-multicam", { disabled: true, on: { click: () => { location.hash = `#/multicam?items=${[...selected].join(",")}`; } } }, t("multicam"));
  const rows = new Map();
  const row = (it) => h("tr.evidence-row", { dataset: { id: it.id, status: it.status } },
    h("td", h("input", { type: "checkbox", checked: selected.has(it.id), on: { change: (e) => { if (e.target.checked) selected.add(it.id); else selected.delete(it.id); mcBtn.disabled = selected.size < 2; } } })),
    h("td.fname", h("a.item-link", { href: `#/evidence/${it.id}`, dataset: { id: it.id }, title: it.original_filename }, it.original_filename)),
    h("td.nowrap", fmtDate(it.recorded_at)), h("td", it.officer_id || "—"), h("td", it.device_id || "—"),
    h("td", label("kind", it.kind)), statusCell(it),
    h("td.ev-cases", (it.cases || []).map((c) => h("a.badge.case-badge", { href: `#/cases/${c.id}`, title: label("stage", c.stage) }, c.number))), h("td.nowrap", fmtSize(it.size)), h("td", h("code", { title: it.sha256 }, shortHash(it.sha256))),
    h("td.nowrap", downloadButton(it), " ", custodyButton("evidence", it.id, root, true)));
  const body = h("tbody", page.items.map((it) => { const r = row(it); rows.set(it.id, r); return r; }));
  const prev = (params.get("prev") || "").split(",").filter(Boolean);
  const pager = h("div.pager",
    h("span.dim", t("ev_count").replace("{n}", String(page.items.length))),
    h("button#page-prev", { disabled: !prev.length, on: { click: () => { const p = [...prev]; const back = p.pop(); go({ cursor: back === "-" ? "" : back, prev: p.join(",") }); } } }, t("prev_page")),
    h("button#page-next", { disabled: !page.next, on: { click: () => go({ cursor: page.next, prev: [...prev, cursor || "-"].join(",") }) } }, t("next_page")));
  clear(root, h("div.toolbar", h("h2", t("evidence_list")), mcBtn), form,
    h("table.grid#evidence-table",
      h("thead", h("tr", h("th", ""), h("th", t("filename")), h("th", t("recorded_at")), h("th", t("ev_officer")), h("th", t("ev_device")),
        h("th", t("kind")), h("th", t("item_status")), h("th", t("ev_cases")), h("th", t("size")), h("th", t("sha256")), h("th", t("ev_actions")))),
      page.items.length ? body : h("tbody", h("tr", h("td.empty", { colSpan: 11 }, t("no_items"))))),
    pager);
  const stop = watchItems(page.items.filter(isPending).map((i) => i.id), {
    onUpdate: (items) => {
      for (const it of items) {
        const old = rows.get(it.id);
        if (!old) continue;
        const fresh = row(it);
        old.replaceWith(fresh); rows.set(it.id, fresh);
      }
    },
  });
  return { destroy: stop };
}

/**
 * The item page: a toolbar above the player (back to the case, custody history, original
 * download, processing progress); when a pending item becomes ready, the page renders again.
 * Wraps the mounted player's destroy so the polling stops with the view.
 */
export function withItemExtras(root, itemId, view, caseId) {
  const progress = h("span#item-progress");
  const actions = h("span.item-actions");
  const bar = h("div.toolbar.item-toolbar#item-toolbar",
    caseId ? h("a.button#back-to-case", { href: `#/cases/${caseId}` }, `← ${t("back_to_case")}`) : null,
    actions, progress);
  root.prepend(bar);
  let stop = () => {};
  let destroyed = false;
  api(`/api/v1/evidence${qs({ ids: itemId, limit: 1 })}`).then((page) => {
    const it = page.items[0];
    if (!it || destroyed) return;
    clear(actions, custodyButton("evidence", itemId, root), " ", downloadButton(it, false));
    if (!isPending(it)) return;
    clear(progress, progressEl(it));
    stop = watchItems([itemId], {
      onUpdate: (items) => { if (items[0]) clear(progress, isPending(items[0]) ? progressEl(items[0]) : ""); },
      onDone: () => { if (!destroyed) rerender(); },
    });
  }).catch(() => {});
  const inner = view && view.destroy ? view.destroy.bind(view) : () => {};
  return { ...view, view, destroy: () => { destroyed = true; stop(); inner(); } };
}
