// The officer / body-camera / station registry (一人一机): officers, devices with their assignment
// history, docking stations (backlog, offline), bulk import with a dry run, an officer's footage
// by day. Reads for admin, reviewer, legal, supervisor; writes for admin.
import { api, qs, session, token } from "./api.js";
import { addStrings, addVocab, getLang, label, t, vocab } from "./i18n.js";
import { clear, fmtDate, fmtSize, h, toast } from "./util.js";
import { registerNav, registerView, rerender } from "./views.js";

addStrings({
  "zh-CN": {
    nav_registry: "人员设备",
    reg_officers: "执法人员", reg_devices: "执法记录仪", reg_stations: "采集站", reg_import: "批量导入",
    reg_code: "人员编号", reg_name: "姓名", reg_certificate: "执法证号", reg_unit: "科室/中队",
    reg_agency: "执法机关", reg_status: "状态", reg_actions: "操作", reg_footage: "音像", reg_leave: "离职",
    reg_rejoin: "恢复在职", reg_search_officers: "编号、姓名、证号、科室", reg_search_devices: "设备编号、型号、使用人",
    reg_add_officer: "登记执法人员", reg_add_device: "登记设备", reg_add_station: "登记采集站", reg_add: "登记",
    reg_agency_code: "机构代码", reg_serial: "设备编号", reg_model: "型号", reg_kind: "设备类型",
    reg_holder: "当前使用人", reg_no_holder: "未分配", reg_history: "分配记录", reg_from: "起始时间", reg_to: "结束时间",
    reg_until_now: "至今", reg_assign: "分配", reg_assign_to: "分配给", reg_retire: "报废", reg_repair: "送修",
    reg_in_service: "恢复使用", reg_reattribute: "按分配记录重新归属", reg_items: "音像条数",
    reg_unknown: "未登记的设备", reg_unknown_hint: "以下设备编号出现在已入库的音像文件中，但尚未登记。登记并指定使用人后，这些音像将按分配记录重新归属（记入监管链）。",
    reg_register_reattribute: "登记并重新归属", reg_first_seen: "最早录制", reg_last_seen: "最近录制",
    reg_station: "采集站", reg_location: "位置", reg_last_contact: "最近联系", reg_files_waiting: "待传文件",
    reg_bytes_waiting: "待传数据量", reg_disk_free: "剩余空间", reg_last_error: "最近错误", reg_account: "站点账号",
    reg_never: "从未", reg_offline_count: "离线", reg_online_count: "在线", reg_recent: "最近上传",
    reg_import_hint: "从表格导入（CSV 或 XLSX，首行为表头）。人员列：警号/编号、姓名、执法证号、科室/中队、机构；设备列：设备编号、型号、类型、持有人警号、起始时间。先试运行：每一行错误都会列出，不写入任何数据。",
    reg_import_kind: "导入内容", reg_file: "文件", reg_dry_run: "试运行（只检查）", reg_import_run: "导入",
    reg_row: "行号", reg_key: "编号", reg_problems: "问题", reg_rows_ok: "条正确", reg_rows_bad: "条有误",
    reg_imported: "已导入", reg_would_import: "将导入", reg_no_bad_rows: "全部行均正确",
    reg_choose_file: "请选择文件", reg_officer_footage: "个人音像", reg_no_footage: "该时段没有音像",
    reg_flag: "归属", reg_claimed: "文件名中的编号", reg_filter: "筛选", reg_no_rows: "没有记录",
    reg_saved: "已保存", reg_reattributed: "条音像已重新归属", reg_unknown_none: "没有未登记的设备",
    reg_offline_after: "超过 {n} 秒无心跳即显示离线", reg_back: "返回",
    reg_flagged: "文件名与分配记录不符的音像", reg_flagged_hint: "文件名中的人员编号与当时持有该设备的人员不一致。归属以分配记录为准，文件名中的编号原样保留。",
    reg_holder_then: "当时使用人", reg_user: "关联账号（可选）",
  },
  en: {
    nav_registry: "Registry",
    reg_officers: "Officers", reg_devices: "Cameras", reg_stations: "Stations", reg_import: "Import",
    reg_code: "Code", reg_name: "Name", reg_certificate: "Certificate no.", reg_unit: "Unit",
    reg_agency: "Agency", reg_status: "Status", reg_actions: "Actions", reg_footage: "Footage", reg_leave: "Left",
    reg_rejoin: "Back on duty", reg_search_officers: "code, name, certificate, unit", reg_search_devices: "serial, model, holder",
    reg_add_officer: "Register an officer", reg_add_device: "Register a device", reg_add_station: "Register a station", reg_add: "Register",
    reg_agency_code: "Agency code", reg_serial: "Serial", reg_model: "Model", reg_kind: "Kind",
    reg_holder: "Held by", reg_no_holder: "Unassigned", reg_history: "Assignments", reg_from: "From", reg_to: "To",
    reg_until_now: "now", reg_assign: "Assign", reg_assign_to: "Assign to", reg_retire: "Retire", reg_repair: "To repair",
    reg_in_service: "Back in service", reg_reattribute: "Re-attribute from assignments", reg_items: "Items",
    reg_unknown: "Unregistered devices", reg_unknown_hint: "These serials appear on stored footage but are not registered. Register one with its holder and its footage is attributed again from the assignment (ledgered).",
    reg_register_reattribute: "Register and re-attribute", reg_first_seen: "First recorded", reg_last_seen: "Last recorded",
    reg_station: "Station", reg_location: "Location", reg_last_contact: "Last contact", reg_files_waiting: "Files waiting",
    reg_bytes_waiting: "Bytes waiting", reg_disk_free: "Disk free", reg_last_error: "Last error", reg_account: "Station account",
    reg_never: "never", reg_offline_count: "offline", reg_online_count: "online", reg_recent: "Recent deliveries",
    reg_import_hint: "Import from a spreadsheet (CSV or XLSX, header on the first row). Officers: code, name, certificate, unit, agency. Devices: serial, model, kind, officer, from. Dry-run first: every bad row is listed and nothing is written.",
    reg_import_kind: "What", reg_file: "File", reg_dry_run: "Dry run (check only)", reg_import_run: "Import",
    reg_row: "Row", reg_key: "Key", reg_problems: "Problems", reg_rows_ok: "good rows", reg_rows_bad: "bad rows",
    reg_imported: "imported", reg_would_import: "would import", reg_no_bad_rows: "Every row is good",
    reg_choose_file: "Choose a file", reg_officer_footage: "Officer's footage", reg_no_footage: "No footage in this period",
    reg_flag: "Attribution", reg_claimed: "Code in file name", reg_filter: "Filter", reg_no_rows: "Nothing here",
    reg_saved: "Saved", reg_reattributed: "item(s) re-attributed", reg_unknown_none: "No unregistered devices",
    reg_offline_after: "offline after {n} s without a heartbeat", reg_back: "Back",
    reg_flagged: "Footage whose file name disagrees with the assignment", reg_flagged_hint: "The officer code in the file name is not the officer who held the camera then. The assignment decides; the file name's code is kept as it was.",
    reg_holder_then: "Held by then", reg_user: "Linked account (optional)",
  },
});
addVocab({
  officer_status: { active: ["在职", "Active"], left: ["已离职", "Left"] },
  device_kind: {
    body_camera: ["执法记录仪", "Body camera"], dashcam: ["车载记录仪", "Dashcam"], handheld: ["手持设备", "Handheld"],
    recorder: ["录音录像设备", "Recorder"], cctv: ["视频监控通道", "CCTV channel"],
  },
  device_status: { in_service: ["在用", "In service"], repair: ["维修中", "In repair"], retired: ["已报废", "Retired"] },
  station_state: { online: ["在线", "Online"], offline: ["离线", "Offline"] },
  attribution_flag: {
    matched: ["按分配记录", "From assignment"], officer_mismatch: ["与文件名不符", "File name disagrees"],
    unassigned: ["设备当时未分配", "Device unassigned then"], unknown_device: ["设备未登记", "Unregistered device"],
    no_time: ["无录制时间", "No recording time"],
  },
  import_kind: { officers: ["执法人员", "Officers"], devices: ["设备", "Devices"] },
});

const READ_ROLES = ["admin", "reviewer", "legal", "supervisor"];
const canWrite = () => { const s = session(); return !!s && s.role === "admin"; };
const AGENCY_KEY = "custodian.registry.agency";
const lastAgency = () => localStorage.getItem(AGENCY_KEY) || "";
const rememberAgency = (v) => { if (v) localStorage.setItem(AGENCY_KEY, v); };
const enc = encodeURIComponent;
const fmt = (key, vars) => t(key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k]));
// datetime-local (the browser's zone) -> RFC 3339 UTC; "" stays "".
const toUtc = (v) => (v ? new Date(v).toISOString() : "");
const toLocalInput = (iso) => {
  if (!iso) return "";
  const d = new Date(Date.parse(iso));
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};

if (!document.getElementById("registry-css")) {
  document.head.append(h("link#registry-css", { rel: "stylesheet", href: "/player/registry.css" }));
}

registerNav({ href: "#/registry/officers", key: "registry", label: "nav_registry", roles: READ_ROLES });
registerView("registry", async (root, parts, params) => {
  const sub = parts[1] || "officers";
  if (sub === "officer" && parts[2]) return viewOfficer(root, parts[2], params);
  if (sub === "device" && parts[2]) return viewDevice(root, parts[2]);
  if (sub === "station" && parts[2]) return viewStation(root, parts[2]);
  if (sub === "devices") return viewDevices(root, params);
  if (sub === "stations") return viewStations(root);
  if (sub === "import") return viewImport(root);
  return viewOfficers(root, params);
});

function tabs(active) {
  const tab = (key, href, text) => h("a", { href, class: active === key ? "active" : "", dataset: { tab: key } }, text);
  return h("nav.reg-tabs",
    tab("officers", "#/registry/officers", t("reg_officers")),
    tab("devices", "#/registry/devices", t("reg_devices")),
    tab("stations", "#/registry/stations", t("reg_stations")),
    canWrite() ? tab("import", "#/registry/import", t("reg_import")) : null);
}

const badge = (kind, id) => h(`span.badge.${id}`, label(kind, id));
const input = (name, attrs = {}) => h("input", { type: "text", name, ...attrs });
const field = (text, el) => h("label", text, el);
const form = (id, ...children) => h(`form.reg-form#${id}`, { on: { submit: (e) => e.preventDefault() } }, ...children);

async function act(fn, okText) {
  try {
    const out = await fn();
    if (okText) toast(okText, "ok");
    rerender();
    return out;
  } catch (e) {
    toast(e.message, "error");
    return null;
  }
}

// -- officers -------------------------------------------------------------------------------
async function viewOfficers(root, params) {
  const f = { q: params.get("q") || "", status: params.get("status") || "", unit: params.get("unit") || "" };
  const data = await api(`/api/v1/officers${qs(f)}`);
  const q = input("q", { type: "search", value: f.q, placeholder: t("reg_search_officers") });
  const status = h("select", { name: "status" }, h("option", { value: "" }, t("all")),
    vocab("officer_status").map((s) => h("option", { value: s, selected: s === f.status }, label("officer_status", s))));
  const unit = input("unit", { value: f.unit, placeholder: t("reg_unit") });
  const go = () => { location.hash = `#/registry/officers${qs({ q: q.value.trim(), status: status.value, unit: unit.value.trim() })}`; };
  const filters = h("form.filters#officer-filters", { on: { submit: (e) => { e.preventDefault(); go(); } } },
    q, h("label.inline", t("reg_status"), status), h("label.inline", t("reg_unit"), unit),
    h("button.primary", { type: "submit", dataset: { action: "officer-search" } }, t("search")));
  const rows = data.items.map((o) => h("tr.officer-row", { dataset: { code: o.code } },
    h("td", h("code", o.code)), h("td", o.name), h("td", o.certificate || "—"), h("td", o.unit || "—"),
    h("td", o.agency || ""), h("td", badge("officer_status", o.status)),
    h("td", h("a.button.small", { href: `#/registry/officer/${enc(o.code)}`, dataset: { action: "officer-footage" } }, t("reg_footage")), " ",
      canWrite() ? h("button.small", {
        dataset: { action: o.status === "left" ? "officer-rejoin" : "officer-leave" },
        on: { click: () => act(() => api(`/api/v1/officers/${enc(o.code)}`, { method: "PATCH", body: { status: o.status === "left" ? "active" : "left" } }), t("reg_saved")) },
      }, o.status === "left" ? t("reg_rejoin") : t("reg_leave")) : null)));
  const table = h("table.grid#officer-table",
    h("tr", [t("reg_code"), t("reg_name"), t("reg_certificate"), t("reg_unit"), t("reg_agency"), t("reg_status"), t("reg_actions")].map((x) => h("th", x))),
    rows.length ? rows : h("tr", h("td.empty", { colSpan: 7 }, t("reg_no_rows"))));
  clear(root, h("h2", t("nav_registry")), tabs("officers"),
    h("div.reg-layout", h("div", filters, table), canWrite() ? officerForm() : null));
}

function officerForm() {
  const els = {
    code: input("code", { required: true, maxLength: 64, placeholder: "010001" }),
    name: input("name", { required: true, maxLength: 200 }),
    certificate: input("certificate", { maxLength: 100 }),
    unit: input("unit", { maxLength: 200 }),
    agency: input("agency", { value: lastAgency(), maxLength: 64 }),
    user: input("user", { maxLength: 100 }),
  };
  const add = async () => {
    const body = Object.fromEntries(Object.entries(els).map(([k, el]) => [k, el.value.trim()]));
    rememberAgency(body.agency);
    if (!body.user) delete body.user;
    await act(() => api("/api/v1/officers", { method: "POST", body }), t("reg_saved"));
  };
  return h("section.panel", h("h3", t("reg_add_officer")), form("officer-form",
    field(t("reg_code"), els.code), field(t("reg_name"), els.name), field(t("reg_certificate"), els.certificate),
    field(t("reg_unit"), els.unit), field(t("reg_agency_code"), els.agency), field(t("reg_user"), els.user),
    h("button.primary", { type: "button", dataset: { action: "officer-add" }, on: { click: add } }, t("reg_add"))));
}

async function viewOfficer(root, code, params) {
  const f = { from: params.get("from") || "", to: params.get("to") || "" };
  const [o, footage] = await Promise.all([
    api(`/api/v1/officers/${enc(code)}`),
    api(`/api/v1/officers/${enc(code)}/footage${qs(f)}`),
  ]);
  const from = h("input", { type: "date", name: "from", value: f.from });
  const to = h("input", { type: "date", name: "to", value: f.to });
  const filters = h("form.filters#footage-filters", {
    on: { submit: (e) => { e.preventDefault(); location.hash = `#/registry/officer/${enc(code)}${qs({ from: from.value, to: to.value })}`; } },
  }, h("label.inline", t("filter_from"), from), h("label.inline", t("filter_to"), to),
  h("button.primary", { type: "submit", dataset: { action: "footage-filter" } }, t("reg_filter")));
  const days = footage.days.length ? footage.days.map((d) => h("div.reg-daybox", { dataset: { date: d.date } },
    h("h3.reg-day", `${d.date} · ${d.items.length}`),
    h("table.grid.footage-table", d.items.map((i) => h("tr.footage-row", { dataset: { id: i.id } },
      h("td", fmtDate(i.recorded_at)), h("td", h("a", { href: `#/evidence/${i.id}` }, i.original_filename)),
      h("td", i.device_id || "—"), h("td", label("kind", i.kind)), h("td", fmtSize(i.size)),
      h("td", i.flag ? h(`span.badge.flag-${i.flag}`, label("attribution_flag", i.flag)) : ""),
      h("td.dim", i.claimed_officer && i.claimed_officer !== o.code ? `${t("reg_claimed")}: ${i.claimed_officer}` : "")))))) :
    h("p.dim", t("reg_no_footage"));
  clear(root, h("h2", t("nav_registry")), tabs("officers"),
    h("div.toolbar", h("a.button", { href: "#/registry/officers" }, `← ${t("reg_officers")}`),
      h("h2#officer-title", `${o.name} (${o.code})`), badge("officer_status", o.status)),
    h("div.reg-layout",
      h("section.panel", h("h3", `${t("reg_officer_footage")} · ${footage.count}`), filters, days),
      h("div",
        h("section.panel", h("dl.reg-kv",
          h("dt", t("reg_code")), h("dd", o.code), h("dt", t("reg_certificate")), h("dd", o.certificate || "—"),
          h("dt", t("reg_unit")), h("dd", o.unit || "—"), h("dt", t("reg_agency")), h("dd", o.agency || ""),
          o.left_at ? [h("dt", t("reg_leave")), h("dd", fmtDate(o.left_at))] : null)),
        h("section.panel", h("h3", t("reg_history")), historyTable(o.assignments, "device")))));
}

function historyTable(rows, show) {
  if (!rows.length) return h("p.dim", t("reg_no_rows"));
  return h("table.grid#assignment-table",
    h("tr", h("th", show === "device" ? t("reg_serial") : t("officer")), h("th", t("reg_from")), h("th", t("reg_to"))),
    rows.map((a) => h("tr.assignment-row", { dataset: { id: a.id } },
      h("td", show === "device" ? h("a", { href: `#/registry/device/${enc(a.serial)}` }, a.serial)
        : h("a", { href: `#/registry/officer/${enc(a.officer_code)}` }, `${a.officer_name} (${a.officer_code})`)),
      h("td", fmtDate(a.from)), h("td", a.to ? fmtDate(a.to) : h("b", t("reg_until_now"))))));
}

// -- devices --------------------------------------------------------------------------------
async function viewDevices(root, params) {
  const f = { q: params.get("q") || "", status: params.get("status") || "", kind: params.get("kind") || "" };
  const [data, unknown, flagged, officers] = await Promise.all([
    api(`/api/v1/devices${qs(f)}`),
    api("/api/v1/devices/unknown"),
    api("/api/v1/devices/flagged"),
    canWrite() ? api("/api/v1/officers?status=active") : Promise.resolve({ items: [] }),
  ]);
  const q = input("q", { type: "search", value: f.q, placeholder: t("reg_search_devices") });
  const sel = (name, kind, value) => h("select", { name }, h("option", { value: "" }, t("all")),
    vocab(kind).map((s) => h("option", { value: s, selected: s === value }, label(kind, s))));
  const status = sel("status", "device_status", f.status);
  const kind = sel("kind", "device_kind", f.kind);
  const filters = h("form.filters#device-filters", {
    on: { submit: (e) => { e.preventDefault(); location.hash = `#/registry/devices${qs({ q: q.value.trim(), status: status.value, kind: kind.value })}`; } },
  }, q, h("label.inline", t("reg_status"), status), h("label.inline", t("reg_kind"), kind),
  h("button.primary", { type: "submit", dataset: { action: "device-search" } }, t("search")));
  const rows = data.items.map((d) => h("tr.device-row", { dataset: { serial: d.serial } },
    h("td", h("a", { href: `#/registry/device/${enc(d.serial)}`, dataset: { action: "device-open" } }, h("code", d.serial))),
    h("td", d.model || "—"), h("td", label("device_kind", d.kind)), h("td", d.agency || ""),
    h("td", badge("device_status", d.status)),
    h("td", d.officer_code ? h("a", { href: `#/registry/officer/${enc(d.officer_code)}` }, `${d.officer_name} (${d.officer_code})`) : h("span.dim", t("reg_no_holder")))));
  const table = h("table.grid#device-table",
    h("tr", [t("reg_serial"), t("reg_model"), t("reg_kind"), t("reg_agency"), t("reg_status"), t("reg_holder")].map((x) => h("th", x))),
    rows.length ? rows : h("tr", h("td.empty", { colSpan: 6 }, t("reg_no_rows"))));
  clear(root, h("h2", t("nav_registry")), tabs("devices"),
    unknown.items.length ? unknownPanel(unknown.items, officers.items) : null,
    flagged.items.length ? flaggedPanel(flagged.items) : null,
    h("div.reg-layout", h("div", filters, table), canWrite() ? deviceForm() : null));
}

function unknownPanel(items, officers) {
  const rows = items.map((u) => {
    const mine = officers.filter((o) => o.agency === u.agency);
    const who = h("select", { name: "officer" }, h("option", { value: "" }, t("reg_no_holder")),
      mine.map((o) => h("option", { value: o.code }, `${o.name} (${o.code})`)));
    const from = h("input", { type: "datetime-local", name: "from", value: toLocalInput(u.first_recorded_at && new Date(Date.parse(u.first_recorded_at) - 60000).toISOString()) });
    const go = () => act(async () => {
      const body = { serial: u.serial, agency: u.agency };
      if (who.value) Object.assign(body, { officer: who.value, from: toUtc(from.value) });
      if (!u.registered) await api("/api/v1/devices", { method: "POST", body });
      else if (who.value) await api(`/api/v1/devices/${enc(u.serial)}/assignments`, { method: "POST", body: { officer: body.officer, from: body.from } });
      const r = await api(`/api/v1/devices/${enc(u.serial)}/reattribute`, { method: "POST" });
      toast(`${r.reattributed} ${t("reg_reattributed")}`, "ok");
    });
    return h("tr.unknown-row", { dataset: { serial: u.serial } },
      h("td", h("code", u.serial)), h("td", u.agency || ""), h("td.num", String(u.items)),
      h("td", fmtDate(u.first_recorded_at)), h("td", fmtDate(u.last_recorded_at)),
      canWrite() ? [h("td", who), h("td", from),
        h("td", h("button.primary.small", { dataset: { action: "device-register" }, on: { click: go } },
          u.registered ? t("reg_reattribute") : t("reg_register_reattribute")))] : null);
  });
  return h("section.panel#unknown-devices", h("h3", `${t("reg_unknown")} (${items.length})`), h("p.reg-hint", t("reg_unknown_hint")),
    h("table.grid", h("tr", [t("reg_serial"), t("reg_agency"), t("reg_items"), t("reg_first_seen"), t("reg_last_seen"),
      ...(canWrite() ? [t("reg_assign_to"), t("reg_from"), ""] : [])].map((x) => h("th", x))), rows));
}

// Footage whose file name names another officer than the one holding the camera then.
function flaggedPanel(items) {
  return h("section.panel#flagged-footage", h("h3", `${t("reg_flagged")} (${items.length})`), h("p.reg-hint", t("reg_flagged_hint")),
    h("table.grid", h("tr", [t("recorded_at"), t("filename"), t("reg_serial"), t("reg_holder_then"), t("reg_claimed")].map((x) => h("th", x))),
      items.map((i) => h("tr.flagged-row", { dataset: { id: i.id } }, h("td", fmtDate(i.recorded_at)),
        h("td", h("a", { href: `#/evidence/${i.id}` }, i.original_filename)), h("td", i.device_id || "—"),
        h("td", i.attribution && i.attribution.officer_code ? `${i.attribution.officer_name} (${i.attribution.officer_code})` : "—"),
        h("td", (i.attribution && i.attribution.claimed_officer) || "—")))));
}

function deviceForm() {
  const els = {
    serial: input("serial", { required: true, maxLength: 64, placeholder: "DSJ-A1001" }),
    model: input("model", { maxLength: 200 }),
    kind: h("select", { name: "kind" }, vocab("device_kind").map((k) => h("option", { value: k }, label("device_kind", k)))),
    agency: input("agency", { value: lastAgency(), maxLength: 64 }),
  };
  const add = async () => {
    const body = Object.fromEntries(Object.entries(els).map(([k, el]) => [k, el.value.trim()]));
    rememberAgency(body.agency);
    await act(() => api("/api/v1/devices", { method: "POST", body }), t("reg_saved"));
  };
  return h("section.panel", h("h3", t("reg_add_device")), form("device-form",
    field(t("reg_serial"), els.serial), field(t("reg_model"), els.model), field(t("reg_kind"), els.kind),
    field(t("reg_agency_code"), els.agency),
    h("button.primary", { type: "button", dataset: { action: "device-add" }, on: { click: add } }, t("reg_add"))));
}

async function viewDevice(root, serial) {
  const d = await api(`/api/v1/devices/${enc(serial)}`);
  const side = [];
  if (canWrite() && d.status !== "retired") {
    const officers = (await api(`/api/v1/officers${qs({ status: "active", agency: d.agency || "" })}`)).items;
    const who = h("select", { name: "officer" }, officers.map((o) => h("option", { value: o.code }, `${o.name} (${o.code}) ${o.unit || ""}`)));
    const from = h("input", { type: "datetime-local", name: "from", value: toLocalInput(new Date().toISOString()) });
    const to = h("input", { type: "datetime-local", name: "to" });
    const assign = () => act(() => api(`/api/v1/devices/${enc(serial)}/assignments`, {
      method: "POST", body: { officer: who.value, from: toUtc(from.value), ...(to.value ? { to: toUtc(to.value) } : {}) },
    }), t("reg_saved"));
    side.push(h("section.panel", h("h3", t("reg_assign")), form("assign-form",
      field(t("reg_assign_to"), who), field(t("reg_from"), from), field(t("reg_to"), to),
      h("button.primary", { type: "button", dataset: { action: "device-assign" }, on: { click: assign } }, t("reg_assign")))));
  }
  if (canWrite()) {
    const status = (s) => () => act(() => api(`/api/v1/devices/${enc(serial)}`, { method: "PATCH", body: { status: s } }), t("reg_saved"));
    const reattr = () => act(async () => {
      const r = await api(`/api/v1/devices/${enc(serial)}/reattribute`, { method: "POST" });
      toast(`${r.reattributed} ${t("reg_reattributed")}`, "ok");
    });
    side.push(h("section.panel.row",
      h("button", { dataset: { action: "device-reattribute" }, on: { click: reattr } }, t("reg_reattribute")), " ",
      d.status === "in_service" ? h("button", { dataset: { action: "device-repair" }, on: { click: status("repair") } }, t("reg_repair")) : null,
      d.status === "repair" ? h("button", { dataset: { action: "device-in-service" }, on: { click: status("in_service") } }, t("reg_in_service")) : null, " ",
      d.status !== "retired" ? h("button", { dataset: { action: "device-retire" }, on: { click: status("retired") } }, t("reg_retire")) : null));
  }
  clear(root, h("h2", t("nav_registry")), tabs("devices"),
    h("div.toolbar", h("a.button", { href: "#/registry/devices" }, `← ${t("reg_devices")}`),
      h("h2#device-title", d.serial), badge("device_status", d.status)),
    h("div.reg-layout",
      h("div",
        h("section.panel", h("dl.reg-kv",
          h("dt", t("reg_model")), h("dd", d.model || "—"), h("dt", t("reg_kind")), h("dd", label("device_kind", d.kind)),
          h("dt", t("reg_agency")), h("dd", d.agency || ""), h("dt", t("reg_holder")),
          h("dd", d.officer_code ? `${d.officer_name} (${d.officer_code})` : t("reg_no_holder")),
          h("dt", t("reg_items")), h("dd", String(d.items)))),
        h("section.panel", h("h3", t("reg_history")), historyTable(d.assignments, "officer"))),
      h("div", side)));
}

// -- stations -------------------------------------------------------------------------------
async function viewStations(root) {
  const data = await api("/api/v1/stations");
  const offline = data.items.filter((s) => !s.online).length;
  const rows = data.items.map((s) => h(`tr.station-row.${s.state}`, { dataset: { code: s.code, state: s.state } },
    h("td", h("a", { href: `#/registry/station/${enc(s.code)}` }, h("code", s.code))), h("td", s.location || "—"),
    h("td", s.agency || ""), h("td", badge("station_state", s.state)),
    h("td", s.last_contact ? fmtDate(s.last_contact) : t("reg_never")),
    h("td.num", String(s.files_waiting)), h("td.num", fmtSize(s.bytes_waiting)),
    h("td.num", s.disk_free == null ? "—" : fmtSize(s.disk_free)),
    h("td", s.last_error ? h("div.reg-error", { title: s.last_error }, s.last_error) : h("span.dim", "—"))));
  const table = h("table.grid#station-table",
    h("tr", [t("reg_station"), t("reg_location"), t("reg_agency"), t("reg_status"), t("reg_last_contact")].map((x) => h("th", x)),
      [t("reg_files_waiting"), t("reg_bytes_waiting"), t("reg_disk_free")].map((x) => h("th.num", x)), h("th", t("reg_last_error"))),
    rows.length ? rows : h("tr", h("td.empty", { colSpan: 9 }, t("reg_no_rows"))));
  clear(root, h("h2", t("nav_registry")), tabs("stations"),
    h("p.dim#station-summary", `${data.items.length - offline} ${t("reg_online_count")} · ${offline} ${t("reg_offline_count")} · ${fmt("reg_offline_after", { n: data.offline_after_seconds })}`),
    h("div.reg-layout", table, canWrite() ? stationForm() : null));
}

function stationForm() {
  const els = {
    code: input("code", { required: true, maxLength: 64, placeholder: "ST-01" }),
    location: input("location", { maxLength: 300 }),
    agency: input("agency", { value: lastAgency(), maxLength: 64 }),
    user: input("user", { maxLength: 100 }),
  };
  const add = async () => {
    const body = Object.fromEntries(Object.entries(els).map(([k, el]) => [k, el.value.trim()]));
    rememberAgency(body.agency);
    if (!body.user) delete body.user;
    await act(() => api("/api/v1/stations", { method: "POST", body }), t("reg_saved"));
  };
  return h("section.panel", h("h3", t("reg_add_station")), form("station-form",
    field(t("reg_station"), els.code), field(t("reg_location"), els.location), field(t("reg_agency_code"), els.agency),
    field(t("reg_account"), els.user),
    h("button.primary", { type: "button", dataset: { action: "station-add" }, on: { click: add } }, t("reg_add"))));
}

async function viewStation(root, code) {
  const s = await api(`/api/v1/stations/${enc(code)}`);
  clear(root, h("h2", t("nav_registry")), tabs("stations"),
    h("div.toolbar", h("a.button", { href: "#/registry/stations" }, `← ${t("reg_stations")}`),
      h("h2#station-title", s.code), badge("station_state", s.state)),
    h("div.reg-layout",
      h("section.panel", h("h3", t("reg_recent")), s.recent_deliveries.length ? h("table.grid#delivery-table",
        h("tr", [t("received_at"), t("filename"), t("device"), t("officer"), t("size")].map((x) => h("th", x))),
        s.recent_deliveries.map((i) => h("tr.delivery-row", { dataset: { id: i.id } }, h("td", fmtDate(i.received_at)),
          h("td", h("a", { href: `#/evidence/${i.id}` }, i.original_filename)), h("td", i.device_id || "—"),
          h("td", i.officer_id || "—"), h("td", fmtSize(i.size))))) : h("p.dim", t("reg_no_rows"))),
      h("section.panel", h("dl.reg-kv",
        h("dt", t("reg_location")), h("dd", s.location || "—"), h("dt", t("reg_agency")), h("dd", s.agency || ""),
        h("dt", t("reg_last_contact")), h("dd", s.last_contact ? fmtDate(s.last_contact) : t("reg_never")),
        h("dt", t("reg_files_waiting")), h("dd", String(s.files_waiting)),
        h("dt", t("reg_bytes_waiting")), h("dd", fmtSize(s.bytes_waiting)),
        h("dt", t("reg_disk_free")), h("dd", s.disk_free == null ? "—" : fmtSize(s.disk_free)),
        h("dt", t("reg_last_error")), h("dd", s.last_error || "—")))));
}

// -- import ---------------------------------------------------------------------------------
// A bad row's problems arrive as stable codes with parameters; they are worded here per language.
const PROBLEMS = {
  "zh-CN": {
    empty: "{field}为空", bad_code: "{field}“{value}”只能含字母、数字、点、下划线和连字符",
    repeats: "{field}“{value}”与第 {row} 行重复", exists: "{field}“{value}”已登记",
    too_long: "{field}超过 {max} 个字符", bad_kind: "设备类型“{value}”无效", no_officer: "没有人员“{value}”（请先导入人员）",
    officer_agency: "人员“{value}”属于其他机关", officer_left: "人员“{value}”已离职", bad_time: "时间“{value}”无法识别",
    to_before_from: "结束时间不晚于起始时间", bad_agency: "机构代码不存在", agency_required: "缺少机构代码",
    bad_user: "账号“{value}”不存在", forbidden: "无权向该机关导入",
  },
  en: {
    empty: "{field} is empty", bad_code: "{field} “{value}” may hold only letters, digits, '.', '_', '-'",
    repeats: "{field} “{value}” repeats row {row}", exists: "{field} “{value}” is already registered",
    too_long: "{field} is longer than {max} characters", bad_kind: "kind “{value}” is not a device kind",
    no_officer: "no officer “{value}” (import the officers first)", officer_agency: "officer “{value}” belongs to another agency",
    officer_left: "officer “{value}” has left", bad_time: "“{value}” is not a time", to_before_from: "to is not after from",
    bad_agency: "no such agency code", agency_required: "agency code missing", bad_user: "no account “{value}”",
    forbidden: "not allowed to import into this agency",
  },
};
const FIELDS = { code: "reg_code", name: "reg_name", certificate: "reg_certificate", unit: "reg_unit", serial: "reg_serial",
  model: "reg_model", kind: "reg_kind", from: "reg_from", agency: "reg_agency" };
function problemText(p) {
  const tpl = (PROBLEMS[getLang()] || PROBLEMS["zh-CN"])[p.code];
  if (!tpl) return p.message;
  const params = { ...p.params, field: p.params && p.params.field ? t(FIELDS[p.params.field] || p.params.field) : "" };
  return tpl.replace(/\{(\w+)\}/g, (_, k) => String(params[k] ?? ""));
}

async function viewImport(root) {
  const kind = h("select", { name: "kind" }, vocab("import_kind").map((k) => h("option", { value: k }, label("import_kind", k))));
  const agency = input("agency", { value: lastAgency(), maxLength: 64 });
  const file = h("input#import-file", { type: "file", name: "file", accept: ".csv,.xlsx,text/csv" });
  const result = h("div.reg-result#import-result");
  const run = async (dry) => {
    if (!file.files.length) { toast(t("reg_choose_file"), "error"); return; }
    rememberAgency(agency.value.trim());
    const r = await fetch(`/api/v1/registry/import${qs({ kind: kind.value, agency: agency.value.trim(), dry_run: dry ? 1 : "" })}`, {
      method: "POST", headers: { Authorization: `Bearer ${token()}`, "Accept-Language": getLang(), "Content-Type": "application/octet-stream" },
      body: file.files[0],
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) { clear(result, h("div.banner.unplayable", body.message || body.error || `HTTP ${r.status}`)); return; }
    clear(result,
      h("p#import-summary", h("b", `${body.ok} ${t("reg_rows_ok")}`), " · ", h("b", { class: body.bad ? "error" : "" }, `${body.bad} ${t("reg_rows_bad")}`),
        " · ", body.dry_run ? `${t("reg_would_import")} ${body.ok}` : `${t("reg_imported")} ${body.imported}`),
      body.errors.length ? h("table.grid#import-errors", h("tr", h("th", t("reg_row")), h("th", t("reg_key")), h("th", t("reg_problems"))),
        body.errors.map((e) => h("tr.bad-row", { dataset: { row: String(e.row) } }, h("td", String(e.row)), h("td", h("code", e.key)),
          h("td", (e.problems || []).map(problemText).join(getLang() === "en" ? "; " : "；"))))) :
        h("p.ok", t("reg_no_bad_rows")));
  };
  clear(root, h("h2", t("nav_registry")), tabs("import"),
    h("section.panel", h("h3", t("reg_import")), h("p.reg-hint", t("reg_import_hint")),
      h("div.filters", field(t("reg_import_kind"), kind), field(t("reg_agency_code"), agency), field(t("reg_file"), file),
        h("button", { type: "button", dataset: { action: "import-dry-run" }, on: { click: () => run(true) } }, t("reg_dry_run")),
        h("button.primary", { type: "button", dataset: { action: "import-run" }, on: { click: () => run(false) } }, t("reg_import_run")))),
    h("section.panel", result));
}
