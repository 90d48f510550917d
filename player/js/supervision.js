// Supervision (Art. 5, 22, 25) and 抽查 / 案卷评查 (Art. 22-23) for the Justice Bureau and an
// agency's legal office. Every number opens the list of cases behind it; every case links to its
// page (#/cases/{id}). Charts are SVG drawn here (the CSP allows no inline script or style).
import { api, qs, session } from "./api.js";
import { addStrings, getLang, t } from "./i18n.js";
import { clear, fmtDate, h, toast } from "./util.js";
import { registerNav, registerView, rerender } from "./views.js";

addStrings({
  "zh-CN": {
    nav_supervision: "执法监督", sv_title: "执法全过程记录监督", sv_agency: "执法机关（代码）",
    sv_from: "立案起始", sv_to: "立案截止", sv_apply: "查询", sv_export_csv: "导出 CSV", sv_export_xlsx: "导出 Excel", sv_export_articles: "导出条款明细 CSV",
    sv_cases: "案件数", sv_archived: "已归档", sv_complete: "记录完整", sv_complete_share: "完整率",
    sv_noncompliant: "须整改", sv_by_article: "按条款的不符合情况", sv_article: "条款", sv_art: "第{n}条",
    sv_error_cases: "须整改案件", sv_findings: "问题数", sv_units: "按执法单位", sv_unit: "执法单位",
    sv_no_unit: "未指定单位", sv_trend: "月度趋势", sv_month: "月份", sv_overdue: "逾期审批",
    sv_late_24h: "超过24小时补办", sv_pending: "待决定", sv_waiting: "已等待（天）", sv_lacking_av: "缺少音像记录的案件",
    sv_exec: "强制执行音像覆盖", sv_exec_share: "覆盖率", sv_span: "执行时长（秒）", sv_covered: "已覆盖（秒）",
    sv_officers: "执法人员", sv_certificate: "执法证件编号", sv_rect_overdue: "逾期未整改",
    sv_deadline: "整改期限", sv_overdue_days: "逾期（天）", sv_packs: "记录制度备案（第二十五条）",
    sv_not_filed: "未备案", sv_filed: "已备案", sv_no_own_pack: "未制定本机关记录制度",
    sv_filing_no: "备案号", sv_drill: "相关案件", sv_none: "无", sv_close: "关闭",
    sv_legend_complete: "记录完整", sv_legend_noncompliant: "须整改", sv_detail: "说明",
    sc_title: "抽查 / 案卷评查", sc_draw: "抽取样本", sc_size: "抽取数量", sc_seed: "随机种子（可留空）", sc_seed_label: "随机种子", sv_chart_articles: "各条款不符合案件数", sv_no_cases: "本期无案件", sv_pending_days: "审批待决超过（天）",
    sc_population: "可抽案卷", sc_sample: "样本", sc_scored: "已评分", sc_mean: "平均分", sc_open: "查看",
    sc_case: "案卷", sc_score: "得分", sc_item: "评查项目", sc_result: "结果", sc_suggested: "系统建议",
    sc_pass: "符合", sc_fail: "不符合", sc_na: "不适用", sc_save: "保存评分", sc_note: "问题说明",
    sc_problems: "发现的问题", sc_order: "责令限期整改", sc_requirement: "整改要求", sc_issue: "下达整改通知",
    sc_orders: "整改通知", sc_status: "状态", sc_open_status: "待整改", sc_answered: "已整改",
    sc_response: "整改情况", sc_respond: "报送整改情况", sc_back: "返回监督", sc_none: "尚无抽查",
    sc_drawn: "已抽取", sc_saved: "评分已保存", sc_issued: "整改通知已下达", sc_answered_ok: "整改情况已报送",
    sc_only_applicable: "仅列出适用于本案的项目",
  },
  en: {
    nav_supervision: "Supervision", sv_title: "Supervision of whole-process recording", sv_agency: "Agency (code)",
    sv_from: "Opened from", sv_to: "Opened before", sv_apply: "Apply", sv_export_csv: "Export CSV", sv_export_xlsx: "Export Excel", sv_export_articles: "Export by-article CSV",
    sv_cases: "Cases", sv_archived: "Archived", sv_complete: "Complete", sv_complete_share: "Complete share",
    sv_noncompliant: "With violations", sv_by_article: "Non-compliance by article", sv_article: "Article", sv_art: "Art. {n}",
    sv_error_cases: "Cases with violations", sv_findings: "Findings", sv_units: "By unit", sv_unit: "Unit",
    sv_no_unit: "(no unit)", sv_trend: "Trend by month", sv_month: "Month", sv_overdue: "Overdue approvals",
    sv_late_24h: "approved after 24 h", sv_pending: "pending decision", sv_waiting: "Waiting (days)", sv_lacking_av: "Cases lacking audio-visual records",
    sv_exec: "AV coverage of compulsory executions", sv_exec_share: "Coverage", sv_span: "Duration (s)", sv_covered: "Covered (s)",
    sv_officers: "Officers", sv_certificate: "Certificate no.", sv_rect_overdue: "Overdue rectifications",
    sv_deadline: "Deadline", sv_overdue_days: "Overdue (days)", sv_packs: "Recording rules filed (Art. 25)",
    sv_not_filed: "not filed", sv_filed: "filed", sv_no_own_pack: "no rules of its own",
    sv_filing_no: "Filing no.", sv_drill: "Cases", sv_none: "None", sv_close: "Close",
    sv_legend_complete: "Complete", sv_legend_noncompliant: "With violations", sv_detail: "Detail",
    sc_title: "Spot checks of case files", sc_draw: "Draw a sample", sc_size: "Sample size", sc_seed: "Seed (optional)", sc_seed_label: "Seed", sv_chart_articles: "Cases not compliant, by article", sv_no_cases: "No cases in the period", sv_pending_days: "Pending longer than (days)",
    sc_population: "Archived files", sc_sample: "Sample", sc_scored: "Scored", sc_mean: "Mean score", sc_open: "Open",
    sc_case: "Case file", sc_score: "Score", sc_item: "Checklist item", sc_result: "Result", sc_suggested: "Suggested",
    sc_pass: "Pass", sc_fail: "Fail", sc_na: "N/A", sc_save: "Save score", sc_note: "Problem noted",
    sc_problems: "Problems found", sc_order: "Order to rectify within a deadline", sc_requirement: "What must be rectified", sc_issue: "Issue the order",
    sc_orders: "Rectification orders", sc_status: "Status", sc_open_status: "open", sc_answered: "answered",
    sc_response: "Rectification", sc_respond: "Report the rectification", sc_back: "Back to supervision", sc_none: "No spot checks yet",
    sc_drawn: "Sample drawn", sc_saved: "Score saved", sc_issued: "Order issued", sc_answered_ok: "Rectification reported",
    sc_only_applicable: "Only the items that apply to this case are listed",
  },
});

const SUPERVISE = ["supervisor", "legal", "admin"];
const SPOT = ["supervisor", "admin"];
const RECTIFY = ["legal", "admin"];
registerNav({ href: "#/supervision", key: "supervision", label: "nav_supervision", roles: SUPERVISE });

// The module's stylesheet (style-src 'self' allows a linked sheet, not inline style).
if (!document.querySelector("link[data-sheet=supervision]")) {
  document.head.append(h("link", { rel: "stylesheet", href: "/player/supervision.css", dataset: { sheet: "supervision" } }));
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
const role = () => (session() || {}).role;
const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
const art = (n) => t("sv_art").replace("{n}", n);
const caseLink = (c) => h("a.case-link", { href: `#/cases/${c.id}`, dataset: { id: c.id } }, c.number);

// -- the drill-down: the cases behind a number -------------------------------------------------
let drillBox = null;
function drill(title, cases) {
  if (!drillBox) return;
  clear(drillBox,
    h("div.drill-head", h("b", title), h("span.dim", ` (${cases.length})`),
      h("button.small", { "data-action": "drill-close", on: { click: () => drillBox.classList.add("hidden") } }, t("sv_close"))),
    cases.length ? h("ul.drill-list", cases.map((c) => h("li", caseLink(c)))) : h("p.dim", t("sv_none")));
  drillBox.classList.remove("hidden");
  drillBox.scrollIntoView({ block: "nearest" });
}
function num(value, title, cases, key) {
  return h("button.num", { "data-action": "drill", dataset: { drill: key }, title: t("sv_drill"), on: { click: () => drill(title, cases) } }, String(value));
}

// -- charts ------------------------------------------------------------------------------------
function articleChart(agency) {
  const rows = agency.by_article;
  if (!rows.length) return h("p.ok", t("sv_none"));
  const W = 560, bar = 22, gap = 8, left = 70, top = 6;
  const H = top + rows.length * (bar + gap);
  const max = Math.max(1, ...rows.map((r) => r.cases));
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": t("sv_by_article") });
  rows.forEach((r, i) => {
    const y = top + i * (bar + gap);
    const w = Math.max(2, ((W - left - 60) * r.cases) / max);
    const werr = Math.max(0, ((W - left - 60) * r.error_cases) / max);
    const g = s("g", { class: "bar", "data-action": "drill", "data-article": r.article, tabindex: 0 },
      s("title", `${art(r.article)}: ${r.cases}`),
      s("text", { x: left - 8, y: y + bar * 0.7, "text-anchor": "end", class: "axis" }, art(r.article)),
      s("rect", { x: left, y, width: w, height: bar, class: "warn" }),
      s("rect", { x: left, y, width: werr, height: bar, class: "bad" }),
      s("text", { x: left + w + 6, y: y + bar * 0.7, class: "value" }, String(r.cases)));
    g.addEventListener("click", () => drill(`${agency.agency_name} · ${art(r.article)}`, r.case_list));
    svg.append(g);
  });
  return svg;
}

function trendChart(agency) {
  const rows = agency.trend;
  if (!rows.length) return h("p.dim", t("sv_none"));
  const W = 560, H = 170, left = 34, bottom = 24, top = 8;
  const max = Math.max(1, ...rows.map((r) => r.cases));
  const step = (W - left - 8) / rows.length;
  const bw = Math.min(40, step * 0.6);
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": t("sv_trend") },
    s("line", { x1: left, y1: y(0), x2: W - 4, y2: y(0), class: "axis-line" }),
    s("text", { x: left - 4, y: y(max) + 4, "text-anchor": "end", class: "axis" }, String(max)),
    s("text", { x: left - 4, y: y(0), "text-anchor": "end", class: "axis" }, "0"));
  rows.forEach((r, i) => {
    const x = left + i * step + (step - bw) / 2;
    const g = s("g", { class: "bar", "data-action": "drill", "data-month": r.month, tabindex: 0 },
      s("title", `${r.month}: ${r.cases} / ${r.complete}`),
      s("rect", { x, y: y(r.cases), width: bw, height: y(0) - y(r.cases), class: "bad" }),
      s("rect", { x, y: y(r.complete), width: bw, height: y(0) - y(r.complete), class: "good" }),
      s("text", { x: x + bw / 2, y: H - 8, "text-anchor": "middle", class: "axis" }, r.month));
    g.addEventListener("click", () => drill(`${agency.agency_name} · ${r.month}`, r.case_list.cases));
    svg.append(g);
  });
  return h("div", svg, h("div.legend", h("span.key.good"), t("sv_legend_complete"), h("span.key.bad"), t("sv_legend_noncompliant")));
}

function shareBar(share) {
  const w = 120;
  return s("svg", { class: "share", width: w, height: 12, viewBox: `0 0 ${w} 12` },
    s("rect", { x: 0, y: 0, width: w, height: 12, class: "track" }),
    s("rect", { x: 0, y: 0, width: Math.round(w * Math.max(0, Math.min(1, share || 0))), height: 12, class: share >= 0.9 ? "good" : "bad" }));
}

// -- tables ------------------------------------------------------------------------------------
function table(id, head, rows) {
  return h(`table.grid.sv-table#${id}`, h("tr", head.map((x) => h("th", x))),
    rows.length ? rows : h("tr", h("td.empty", { colSpan: head.length }, t("sv_none"))));
}

function tallyCells(name, tally, key) {
  const l = tally.case_list;
  return [
    h("td", num(tally.cases, `${name} · ${t("sv_cases")}`, l.cases, `${key}-cases`)),
    h("td", num(tally.archived, `${name} · ${t("sv_archived")}`, l.archived, `${key}-archived`)),
    h("td", num(tally.complete, `${name} · ${t("sv_complete")}`, l.complete, `${key}-complete`)),
    h("td", num(tally.cases - tally.complete, `${name} · ${t("sv_noncompliant")}`, l.noncompliant, `${key}-noncompliant`)),
    h("td", pct(tally.complete_share)),
  ];
}

function agencySection(a) {
  const name = `${a.agency_name} (${a.agency})`;
  const kpi = (title, value, cases, key) => h("div.kpi", h("div.kpi-label", title), value === null ? h("div.kpi-value", "—") : h("div.kpi-value", num(value, `${name} · ${title}`, cases, `${a.agency}-${key}`)));
  const lacking = a.lacking_av.map((c) => ({ id: c.id, number: c.number }));
  const overdueCases = a.overdue_approvals.map((c) => ({ id: c.id, number: c.number }));
  const pack = a.pack || {};
  return h("section.panel.agency", { dataset: { agency: a.agency } },
    h("div.agency-head", h("h3", name),
      pack.own_pack === false ? h("span.badge.warn", t("sv_no_own_pack")) : pack.filed ? h("span.badge", `${t("sv_filed")} ${pack.filing_no}`) : h("span.badge.warn", t("sv_not_filed"))),
    h("div.kpis",
      kpi(t("sv_cases"), a.cases, a.case_list.cases, "cases"),
      kpi(t("sv_archived"), a.archived, a.case_list.archived, "archived"),
      kpi(t("sv_complete"), a.complete, a.case_list.complete, "complete"),
      h("div.kpi", h("div.kpi-label", t("sv_complete_share")), h("div.kpi-value", pct(a.complete_share))),
      kpi(t("sv_overdue"), a.overdue_approvals.length, overdueCases, "overdue"),
      kpi(t("sv_lacking_av"), a.lacking_av.length, lacking, "lacking-av"),
      h("div.kpi", h("div.kpi-label", t("sv_exec")), h("div.kpi-value", pct(a.executions.coverage_share))),
      kpi(t("sv_rect_overdue"), a.overdue_rectifications.length, a.overdue_rectifications.flatMap((o) => o.cases || []), "rect")),
    a.cases === 0 ? h("p.dim", t("sv_no_cases")) : [h("div.charts",
      h("div.chart-box", h("h4", t("sv_chart_articles")), articleChart(a)),
      h("div.chart-box", h("h4", t("sv_trend")), trendChart(a))),
    h("h4", t("sv_by_article")),
    table(`articles-${a.agency}`, [t("sv_article"), t("sv_cases"), t("sv_error_cases"), t("sv_findings"), t("sv_drill")],
      a.by_article.map((r) => h("tr", { dataset: { article: r.article } },
        h("td", art(r.article)),
        h("td", num(r.cases, `${name} · ${art(r.article)}`, r.case_list, `${a.agency}-art-${r.article}`)),
        h("td", String(r.error_cases)), h("td", String(r.findings)),
        h("td.case-numbers", r.case_list.slice(0, 6).map((c) => [caseLink(c), " "]), r.case_list.length > 6 ? "…" : "")))),
    h("h4", t("sv_units")),
    table(`units-${a.agency}`, [t("sv_unit"), t("sv_cases"), t("sv_archived"), t("sv_complete"), t("sv_noncompliant"), t("sv_complete_share")],
      a.units.map((u) => h("tr", h("td", u.unit || t("sv_no_unit")), ...tallyCells(`${name} · ${u.unit || t("sv_no_unit")}`, u, `${a.agency}-unit-${u.unit}`)))),
    h("h4", t("sv_overdue")),
    table(`overdue-${a.agency}`, [t("case_number"), t("reason"), t("sv_waiting"), t("sv_detail")],
      a.overdue_approvals.map((o) => h("tr", h("td", caseLink(o)), h("td", t(`sv_${o.reason}`)), h("td", String(o.age_days ?? "")), h("td.detail", o.message || o.kind || "")))),
    h("h4", t("sv_lacking_av")),
    table(`lacking-${a.agency}`, [t("case_number"), t("sv_article"), t("sv_detail")],
      a.lacking_av.map((c) => h("tr", h("td", caseLink(c)), h("td", c.articles.map(art).join(getLang() === "en" ? ", " : "、")), h("td.detail", c.messages.join(" "))))),
    h("h4", t("sv_exec")),
    table(`exec-${a.agency}`, [t("case_number"), t("sv_span"), t("sv_covered"), t("sv_exec_share")],
      a.executions.items.map((e) => h("tr", h("td", caseLink(e)), h("td", String(e.span_seconds ?? "—")), h("td", String(e.covered_seconds ?? "—")), h("td", shareBar(e.share), " ", pct(e.share))))),
    h("h4", t("sv_officers")),
    table(`officers-${a.agency}`, [t("officer"), t("sv_certificate"), t("sv_cases"), t("sv_complete"), t("sv_complete_share"), t("sv_findings")],
      a.officers.map((p) => h("tr", h("td", p.name), h("td", p.certificate_no),
        h("td", num(p.cases, `${p.name} · ${t("sv_cases")}`, p.case_list, `${a.agency}-off-${p.officer_id}`)),
        h("td", String(p.complete)), h("td", pct(p.complete_share)), h("td", String(p.findings))))),
    a.overdue_rectifications.length ? [h("h4", t("sv_rect_overdue")),
      table(`rect-${a.agency}`, [t("sv_deadline"), t("sv_overdue_days"), t("sc_requirement"), ""],
        a.overdue_rectifications.map((o) => h("tr", h("td", fmtDate(o.deadline)), h("td", String(o.overdue_days)), h("td", o.requirement),
          h("td", h("a", { href: `#/supervision/spot/${o.spot_check_id}` }, t("sc_open"))))))] : null]);
}

async function download(fmt, params) {
  const r = await api(`/api/v1/supervision${qs({ ...params, format: fmt })}`, { raw: true });
  const url = URL.createObjectURL(await r.blob());
  const a = h("a", { href: url, download: `supervision.${fmt}` });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

// A date picked in the form is a day in China Standard Time: from its start, or to its end.
function toIso(dateValue, end = false) {
  return dateValue ? new Date(`${dateValue}T${end ? "23:59:59" : "00:00:00"}+08:00`).toISOString() : "";
}

async function viewSupervision(root, params) {
  const p = { agency: params.get("agency") || "", from: params.get("from") || "", to: params.get("to") || "", pending_days: params.get("pending_days") || "" };
  const query = { agency: p.agency, from: toIso(p.from), to: toIso(p.to, true), pending_days: p.pending_days };
  const [rep, checks] = await Promise.all([
    api(`/api/v1/supervision${qs(query)}`),
    api(`/api/v1/spot-checks${qs({ agency: p.agency })}`).catch(() => ({ items: [] })),
  ]);
  const form = h("form.toolbar#supervision-filter", {
    on: { submit: (e) => { e.preventDefault(); const d = new FormData(e.target); location.hash = `#/supervision${qs({ agency: d.get("agency"), from: d.get("from"), to: d.get("to"), pending_days: d.get("pending_days") })}`; } },
  },
  h("label", t("sv_agency"), h("input", { type: "text", name: "agency", value: p.agency, size: 8 })),
  h("label", t("sv_from"), h("input", { type: "date", name: "from", value: p.from })),
  h("label", t("sv_to"), h("input", { type: "date", name: "to", value: p.to })),
  h("label", t("sv_pending_days"), h("input", { type: "number", name: "pending_days", value: p.pending_days || 3, min: 0, max: 3650 })),
  h("button.primary", { type: "submit", "data-action": "supervision-filter" }, t("sv_apply")),
  h("button", { type: "button", "data-action": "supervision-export-csv", on: { click: () => download("csv", query).catch((e) => toast(e.message, "error")) } }, t("sv_export_csv")),
  h("button", { type: "button", "data-action": "supervision-export-articles", on: { click: () => download("csv", { ...query, table: "articles" }).catch((e) => toast(e.message, "error")) } }, t("sv_export_articles")),
  h("button", { type: "button", "data-action": "supervision-export-xlsx", on: { click: () => download("xlsx", query).catch((e) => toast(e.message, "error")) } }, t("sv_export_xlsx")));
  drillBox = h("div.panel.drill.hidden#drill");
  const notFiled = rep.packs_not_filed || [];
  clear(root,
    h("div.toolbar", h("h2", t("sv_title"))), form,
    notFiled.length ? h("div.panel#packs-not-filed", h("b", t("sv_packs")), ": ",
      notFiled.map((x) => h("span.badge.warn", `${x.agency_name || x.pack} · ${x.own_pack === false ? t("sv_no_own_pack") : t("sv_not_filed")}`)).flatMap((b) => [b, " "])) : null,
    drillBox,
    rep.agencies.map(agencySection),
    spotSection(checks.items, p.agency));
}

// -- 抽查 ----------------------------------------------------------------------------------------
function spotSection(items, agency) {
  const may = SPOT.includes(role());
  const drawForm = may ? h("form.toolbar#spot-draw", {
    on: {
      submit: async (e) => {
        e.preventDefault();
        const d = new FormData(e.target);
        try {
          const body = { agency: d.get("agency"), size: Number(d.get("size")) };
          if (d.get("seed")) body.seed = d.get("seed");
          if (d.get("from")) body.from = toIso(d.get("from"));
          if (d.get("to")) body.to = toIso(d.get("to"), true);
          const sc = await api("/api/v1/spot-checks", { method: "POST", body });
          toast(t("sc_drawn"), "ok");
          location.hash = `#/supervision/spot/${sc.id}`;
        } catch (err) { toast(err.message, "error"); }
      },
    },
  },
  h("label", t("sv_agency"), h("input", { type: "text", name: "agency", value: agency, size: 8, required: true })),
  h("label", t("sv_from"), h("input", { type: "date", name: "from" })),
  h("label", t("sv_to"), h("input", { type: "date", name: "to" })),
  h("label", t("sc_size"), h("input", { type: "number", name: "size", value: 5, min: 1, max: 200 })),
  h("label", t("sc_seed"), h("input", { type: "text", name: "seed", size: 14 })),
  h("button.primary", { type: "submit", "data-action": "spot-draw" }, t("sc_draw"))) : null;
  return h("section.panel#spot-checks", h("h3", t("sc_title")), drawForm,
    table("spot-table", [t("sv_agency"), t("sc_seed"), t("sc_population"), t("sc_sample"), t("sc_scored"), t("sc_mean"), ""],
      items.map((i) => h("tr", { dataset: { id: i.id } }, h("td", i.agency), h("td", h("code", i.seed)), h("td", String(i.population)), h("td", String(i.sample_size)),
        h("td", String(i.scored)), h("td", String(i.mean_score ?? "—")), h("td", h("a.spot-link", { href: `#/supervision/spot/${i.id}` }, t("sc_open")))))));
}

function itemLabel(item) { return getLang() === "en" ? item.label_en : item.label_zh; }

function scoreForm(sc, row) {
  const items = sc.checklist.filter((i) => (row.results[i.id] || row.suggested[i.id]) !== "na");
  const selects = items.map((i) => {
    const cur = row.results[i.id] || row.suggested[i.id];
    return h("tr", { dataset: { item: i.id } },
      h("td", art(i.article)), h("td.detail", itemLabel(i)), h("td", t(`sc_${row.suggested[i.id]}`)),
      h("td", h("select", { name: `results.${i.id}` }, ["pass", "fail", "na"].map((v) => h("option", { value: v, selected: v === cur }, t(`sc_${v}`))))));
  });
  const note = h("textarea", { name: "note", rows: 2, cols: 60 });
  return h("form.score-form", {
    dataset: { case: row.case_id },
    on: {
      submit: async (e) => {
        e.preventDefault();
        const results = {};
        for (const sel of e.target.querySelectorAll("select")) results[sel.name.slice(8)] = sel.value;
        const problems = note.value.trim() ? [{ note: note.value.trim() }] : [];
        try {
          await api(`/api/v1/spot-checks/${sc.id}/cases/${row.case_id}/score`, { method: "POST", body: { results, problems } });
          toast(t("sc_saved"), "ok"); rerender();
        } catch (err) { toast(err.message, "error"); }
      },
    },
  },
  h("p.hint", t("sc_only_applicable")),
  h("table.grid.checklist", h("tr", h("th", t("sv_article")), h("th", t("sc_item")), h("th", t("sc_suggested")), h("th", t("sc_result"))), selects),
  h("label", t("sc_note"), note),
  h("button.primary", { type: "submit", "data-action": "spot-score" }, t("sc_save")));
}

async function viewSpotCheck(root, id) {
  const sc = await api(`/api/v1/spot-checks/${id}`);
  const may = SPOT.includes(role());
  const cases = sc.cases.map((row) => h("details.panel.spot-case", { dataset: { case: row.case_id } },
    h("summary", caseLink({ id: row.case_id, number: row.number }), " ", row.title || "", " · ",
      t("sc_score"), ": ", h("b.score", String(row.score ?? "—"))),
    row.problems.length ? h("div", h("h4", t("sc_problems")), h("ul", row.problems.map((p) => h("li", p.article ? `${art(p.article)} ` : "", p.note)))) : null,
    may ? scoreForm(sc, row) : null));
  const orderForm = may ? h("form.toolbar#order-form", {
    on: {
      submit: async (e) => {
        e.preventDefault();
        const d = new FormData(e.target);
        try {
          await api(`/api/v1/spot-checks/${sc.id}/orders`, { method: "POST", body: { deadline: toIso(d.get("deadline"), true), requirement: d.get("requirement") } });
          toast(t("sc_issued"), "ok"); rerender();
        } catch (err) { toast(err.message, "error"); }
      },
    },
  },
  h("label", t("sv_deadline"), h("input", { type: "date", name: "deadline", required: true })),
  h("label", t("sc_requirement"), h("textarea", { name: "requirement", rows: 2, cols: 50, required: true })),
  h("button.primary", { type: "submit", "data-action": "order-issue" }, t("sc_issue"))) : null;
  const respond = (o) => (RECTIFY.includes(role()) && o.status === "open" ? h("form.respond-form", {
    on: {
      submit: async (e) => {
        e.preventDefault();
        try {
          await api(`/api/v1/rectification-orders/${o.id}/response`, { method: "POST", body: { response: new FormData(e.target).get("response") } });
          toast(t("sc_answered_ok"), "ok"); rerender();
        } catch (err) { toast(err.message, "error"); }
      },
    },
  }, h("textarea", { name: "response", rows: 2, cols: 40, required: true }), h("button", { type: "submit", "data-action": "order-respond" }, t("sc_respond"))) : o.response);
  clear(root,
    h("div.toolbar", h("a.button", { href: "#/supervision" }, `← ${t("sc_back")}`), h("h2", `${t("sc_title")} · ${sc.agency_name}`)),
    h("div.panel.dim", `${t("sc_seed_label")}: `, h("code#spot-seed", sc.seed), ` · ${t("sc_population")}: ${sc.population} · ${t("sc_sample")}: ${sc.sample_size} · ${fmtDate(sc.created_at)}`),
    cases,
    h("section.panel", h("h3", t("sc_orders")), orderForm,
      table("order-table", [t("sv_deadline"), t("sc_requirement"), t("sc_status"), t("sc_response")],
        sc.orders.map((o) => h(`tr${o.overdue ? ".overdue" : ""}`, { dataset: { id: o.id } }, h("td", fmtDate(o.deadline)), h("td", o.requirement),
          h("td", o.status === "open" ? t("sc_open_status") : t("sc_answered")), h("td", respond(o)))))));
}

registerView("supervision", async (root, parts, params) => {
  if (parts[1] === "spot" && parts[2]) return viewSpotCheck(root, parts[2]);
  return viewSupervision(root, params);
});
