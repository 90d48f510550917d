// Case work in the browser (issue 11 points 1-5): the case list, a new or edited case, the case
// page with its five stages, 文书 (typed records) from the rule pack, approvals decided by each
// named person ("待我审批"), stage advance and archiving with what is missing per stage, and the
// export panel (待导出片段, recipient, purpose, job progress, download, past exports).
import { api, blobUrl, qs, session, token } from "./api.js";
import { ENFORCEMENT_TYPES, STAGES, addStrings, addVocab, getLang, label, t, vocab } from "./i18n.js";
import { custodyButton } from "./custody.js";
import { Multicam } from "./multicam.js";
import { parseVtt } from "./player.js";
import { sha256File } from "./sha256.js";
import { statusLabel } from "./viewers.js";
import { registerNav, registerView, rerender } from "./views.js";
import { clear, fmtDate, fmtDuration, fmtMedia, fmtSize, h, itemDuration, shortHash, toast } from "./util.js";

addStrings({
  "zh-CN": {
    app_title: "行政执法全过程记录管理系统",
    nav_approvals: "待我审批",
    cw_new_case: "新建案件", cw_edit_case: "编辑案件", cw_save: "保存", cw_cancel: "取消",
    cw_number: "案号", cw_title: "案件名称", cw_type: "执法类型", cw_procedure: "程序",
    cw_opened_filing: "立案时间", cw_opened_start: "启动时间", cw_opened_col: "立案/启动时间",
    cw_emergency: "情况紧急，先行启动（24小时内补办审批）", cw_major: "重大行政执法行为",
    cw_disputed: "容易引起行政争议", cw_description: "案情摘要",
    cw_parties: "当事人", cw_parties_hint: "每行一个当事人（姓名或单位名称）",
    cw_officers: "执法人员", cw_officers_registry: "从执法人员名册中选择",
    cw_officers_free: "执法人员名册为空：请填写姓名和执法证件编号",
    cw_officer_name: "姓名", cw_certificate: "执法证件编号", cw_add_officer: "添加执法人员",
    cw_shown: "已出示证件", cw_remove: "移除",
    cw_created: "案件已创建", cw_saved: "已保存",
    cw_records: "文书", cw_no_records: "暂无文书", cw_add_record: "添加文书",
    cw_doc_type: "文书类型", cw_record_title: "文书标题", cw_time: "形成时间",
    cw_end_time: "结束时间", cw_signature: "签字情况", cw_service_method: "送达方式",
    cw_execution_type: "执行方式", cw_witness: "见证人", cw_scan: "纸质文书扫描件（PDF/JPEG，可选）",
    cw_correct: "更正", cw_correcting: "更正文书", cw_superseded: "已被更正",
    cw_attach: "附扫描件", cw_attachments: "附件", cw_uploading: "正在上传扫描件…",
    cw_attached: "扫描件已附上", cw_claimed_time: "时间为填写人所述",
    cw_approvals: "审批", cw_no_approvals: "暂无审批", cw_request_approval: "申请审批",
    cw_approval_kind: "审批事项", cw_submit_request: "提交审批申请",
    cw_requested: "审批申请已提交", cw_decided: "已提交审批意见",
    cw_opinion: "审批意见", cw_approve: "同意", cw_reject: "退回",
    cw_waiting: "等待", cw_decide_here: "请您审批",
    cw_footage: "音像记录", cw_no_footage: "暂无音像记录",
    cw_findings: "问题提示", cw_no_findings: "未发现问题",
    cw_missing: "归档前须补齐", cw_article: "第{n}条",
    cw_current: "当前阶段", cw_not_reached: "尚未进入本阶段",
    cw_advance_to: "推进到：{stage}", cw_advanced: "已进入{stage}",
    cw_archive: "归档", cw_archived_ok: "案件已归档", cw_archive_refused: "尚不能归档：请补齐下列各阶段的问题",
    cw_archived: "案件已归档，卷宗已封存",
    cw_export: "导出证据包", cw_export_new: "新建导出", cw_clips: "待导出片段",
    cw_no_clips: "暂无待导出片段（在播放器中设定片段起点/终点后加入）",
    cw_clip_start: "片段起点", cw_clip_end: "片段终点", cw_items: "导出的证据材料",
    cw_recipient: "接收单位或人员", cw_purpose: "用途", cw_watermark: "在片段中加水印（接收方与导出编号）",
    cw_export_start: "开始导出", cw_export_state: "导出状态", cw_download: "下载证据包",
    cw_redownload: "重新下载", cw_past_exports: "导出记录", cw_no_exports: "暂无导出记录",
    cw_requested_by: "导出人", cw_when: "时间", cw_export_forbidden: "您的角色不能导出证据包",
    cw_export_queued: "导出任务已开始",
    cw_unlinked: "未关联的音像记录", cw_link: "关联", cw_link_to: "关联到", cw_linked: "已关联",
    cw_proposal: "建议关联", cw_no_items: "暂无未关联的音像记录",
    cw_pending_title: "待我审批", cw_pending_none: "目前没有等待您审批的事项",
    cw_my_role: "我的角色", cw_case: "案件", cw_requested_at: "申请时间", cw_history: "我参与的审批",
    cw_multicam: "多机位同步查看", cw_back_cases: "返回案件列表", cw_people_required: "请选择审核人和批准人",
    cw_fields_required: "请填写必填项", cw_choose: "请选择",
  },
  en: {
    app_title: "Whole-process enforcement recording",
    nav_approvals: "Awaiting me",
    cw_new_case: "New case", cw_edit_case: "Edit case", cw_save: "Save", cw_cancel: "Cancel",
    cw_number: "Case number", cw_title: "Title", cw_type: "Enforcement type", cw_procedure: "Procedure",
    cw_opened_filing: "Filed at", cw_opened_start: "Started at", cw_opened_col: "Opened",
    cw_emergency: "Emergency start (approval within 24 hours)", cw_major: "Major enforcement act",
    cw_disputed: "Likely to be disputed", cw_description: "Summary",
    cw_parties: "Parties", cw_parties_hint: "One party per line (person or organisation)",
    cw_officers: "Officers", cw_officers_registry: "Choose from the officer registry",
    cw_officers_free: "The officer registry is empty: enter name and certificate number",
    cw_officer_name: "Name", cw_certificate: "Certificate no.", cw_add_officer: "Add officer",
    cw_shown: "Certificate shown", cw_remove: "Remove",
    cw_created: "Case created", cw_saved: "Saved",
    cw_records: "Documents", cw_no_records: "No documents", cw_add_record: "Add document",
    cw_doc_type: "Document type", cw_record_title: "Document title", cw_time: "Time",
    cw_end_time: "End time", cw_signature: "Signature", cw_service_method: "Service method",
    cw_execution_type: "Execution type", cw_witness: "Witness", cw_scan: "Scan of the paper document (PDF/JPEG, optional)",
    cw_correct: "Correct", cw_correcting: "Correct the document", cw_superseded: "Superseded",
    cw_attach: "Attach scan", cw_attachments: "Attachments", cw_uploading: "Uploading the scan…",
    cw_attached: "Scan attached", cw_claimed_time: "time as stated by the writer",
    cw_approvals: "Approvals", cw_no_approvals: "No approvals", cw_request_approval: "Request approval",
    cw_approval_kind: "Approval", cw_submit_request: "Send the request",
    cw_requested: "Approval requested", cw_decided: "Decision recorded",
    cw_opinion: "Opinion", cw_approve: "Approve", cw_reject: "Reject",
    cw_waiting: "Waiting for", cw_decide_here: "Your decision",
    cw_footage: "Recordings", cw_no_footage: "No recordings",
    cw_findings: "Issues", cw_no_findings: "No issues found",
    cw_missing: "Needed before archiving", cw_article: "Art. {n}",
    cw_current: "Current stage", cw_not_reached: "Not reached yet",
    cw_advance_to: "Advance to: {stage}", cw_advanced: "Now at {stage}",
    cw_archive: "Archive", cw_archived_ok: "Case archived", cw_archive_refused: "Cannot archive yet: resolve the items below in each stage",
    cw_archived: "Archived; the case file is closed",
    cw_export: "Evidence package", cw_export_new: "New export", cw_clips: "Clips to export",
    cw_no_clips: "No clips yet (set clip start/end in the player and add them)",
    cw_clip_start: "Clip start", cw_clip_end: "Clip end", cw_items: "Items to export",
    cw_recipient: "Recipient", cw_purpose: "Purpose", cw_watermark: "Watermark clips (recipient and export id)",
    cw_export_start: "Start export", cw_export_state: "Export state", cw_download: "Download package",
    cw_redownload: "Download again", cw_past_exports: "Past exports", cw_no_exports: "No exports yet",
    cw_requested_by: "Exported by", cw_when: "When", cw_export_forbidden: "Your role cannot export packages",
    cw_export_queued: "Export started",
    cw_unlinked: "Unlinked recordings", cw_link: "Link", cw_link_to: "Link to", cw_linked: "Linked",
    cw_proposal: "Suggested", cw_no_items: "No unlinked recordings",
    cw_pending_title: "Awaiting my decision", cw_pending_none: "Nothing is waiting for your decision",
    cw_my_role: "My role", cw_case: "Case", cw_requested_at: "Requested", cw_history: "Approvals I am named in",
    cw_multicam: "Multi-camera view", cw_back_cases: "Back to cases", cw_people_required: "Choose a reviewer and an approver",
    cw_fields_required: "Fill in the required fields", cw_choose: "Choose",
  },
});
addVocab({
  role: {
    station: ["采集站", "Station"], officer: ["执法人员", "Officer"], reviewer: ["审核人员", "Reviewer"],
    legal: ["法制审核人员", "Legal reviewer"], supervisor: ["监督人员", "Supervisor"],
    auditor: ["审计人员", "Auditor"], admin: ["系统管理员", "Administrator"],
  },
  approval_role: { handler: ["承办人", "Handler"], reviewer: ["审核人", "Reviewer"], approver: ["批准人", "Approver"] },
  approval_status: {
    pending: ["待审批", "Pending"], reviewed: ["已审核，待批准", "Reviewed, awaiting approval"],
    approved: ["已批准", "Approved"], rejected: ["已退回", "Rejected"],
  },
  decision: { request: ["提出申请", "Requested"], approve: ["同意", "Approved"], reject: ["退回", "Rejected"] },
  signature_status: { signed: ["已签字", "Signed"], refused: ["拒绝签字", "Refused to sign"], not_applicable: ["不适用", "Not applicable"] },
  severity: { error: ["须整改", "Must fix"], warning: ["建议整改", "Should fix"], info: ["提示", "Note"] },
  export_state: { queued: ["排队中", "Queued"], running: ["正在生成", "Running"], done: ["已完成", "Done"], failed: ["失败", "Failed"] },
  // Fields of the 文书 forms (keys of a record's `fields`, as the rule pack's checks name them).
  field: {
    content: ["内容摘要", "Content"], place: ["地点", "Place"], person: ["被询问/检查人", "Person questioned or inspected"],
    findings: ["检查情况", "What was found"], refusal: ["拒签情况记录", "Record of the refusal to sign"],
    reason: ["理由", "Reason"], object: ["标的物", "Object"], form: ["形式", "Form"],
    drafter: ["起草人", "Drafter"], draft_reviewer: ["起草机构审查人", "Reviewing unit's reviewer"],
    legal_basis: ["法律依据", "Legal basis"], evidence: ["证据材料", "Evidence"],
    refusal_reason: ["拒收事由", "Reason the party refused"], document: ["送达文书", "Document served"],
    decision: ["决定内容", "Decision"], result: ["履行情况", "Result"], items: ["物品清单", "Items"],
    method: ["方式", "Method"], facts: ["事实", "Facts"], rights: ["告知的权利", "Rights notified"],
    statement: ["陈述申辩内容", "Statement"], complaint_id: ["投诉举报编号", "Complaint id"],
    party: ["当事人基本情况", "Party"], handler_opinion: ["承办人意见", "Handler's opinion"],
    unit_opinion: ["承办机构意见", "Unit's opinion"], legal_review_opinion: ["法制审核意见", "Legal review opinion"],
    approver_opinion: ["批准人意见", "Approver's opinion"], reviewer: ["审核人员", "Reviewer"],
    opinion: ["审核意见", "Opinion"], suggestion: ["建议", "Suggestion"], waiver: ["放弃陈述申辩情况", "Waiver"],
    period_days: ["履行期限（日）", "Period (days)"], served_at: ["送达时间", "Served at"],
  },
});

const WRITE_ROLES = new Set(["officer", "reviewer", "legal", "admin"]);
const EXPORT_ROLES = new Set(["reviewer", "legal", "admin"]);
const UPLOAD_ROLES = new Set(["officer", "reviewer", "legal", "admin"]);
const fmt = (key, vars) => t(key).replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ""));
const en = () => getLang() === "en";
// Punctuation follows the interface language, so the English UI carries no Chinese marks.
const COLON = () => (en() ? ": " : "：");
const LIST = () => (en() ? ", " : "、");
const paren = (x) => (en() ? ` (${x})` : `（${x}）`);
const names = (v) => (Array.isArray(v) ? v.map((o) => (typeof o === "string" ? o : o.name || o.code || "")).filter(Boolean).join(LIST()) : v || "");
const article = (n) => (n ? fmt("cw_article", { n: String(n).replace(/^Art\.?\s*/, "") }) : "");
// The session knows the username and role; the user id (to match approvals) comes from /auth/me.
let meInfo = { token: null, id: null };
const me = () => ({ ...(session() || {}), user_id: meInfo.token === token() ? meInfo.id : null });
async function loadMe() {
  if (meInfo.token !== token()) {
    const u = await api("/api/v1/auth/me");
    meInfo = { token: token(), id: u.id };
  }
  return me();
}

// -- the rule pack (document types, approval kinds, methods, with their Chinese labels) --------
let packPromise = null, packToken = null;
function pack() {
  if (!packPromise || packToken !== token()) {
    packToken = token();
    packPromise = api("/api/v1/rules").catch((e) => { packPromise = null; throw e; });
  }
  return packPromise;
}
const entryLabel = (e, fallback) => (e ? (en() ? e.label_en || e.label_zh : e.label_zh || e.label_en) : fallback || "");
const find = (list, id) => (list || []).find((e) => e.id === id);
// The fields a document type's form offers: what the pack's record_fields rules ask of it.
function docFields(p, docType, extra = {}) {
  const out = [];
  for (const r of p.rules || []) {
    if (r.check !== "record_fields") continue;
    const m = r.match || {};
    const hit = m.doc_type ? [].concat(m.doc_type).includes(docType) : (m.service_method && extra.service_method && [].concat(m.service_method).includes(extra.service_method));
    if (!hit) continue;
    for (const f of (r.params || {}).fields || []) if (!["service_method", "witness", "signature_status"].includes(f) && !out.includes(f)) out.push(f);
  }
  return out;
}
const TYPE_FIELDS = {
  onsite_inspection_transcript: ["place", "person", "findings"], inquiry_transcript: ["place", "person"],
  investigation_transcript: ["place", "person"], rights_notice: ["facts", "rights"],
  statement_transcript: ["statement"], decision: ["decision"], performance_record: ["result"],
  evidence_register: ["items", "method"], service_receipt: ["document", "place"], complaint_notice: ["complaint_id"],
};

// -- small widgets --------------------------------------------------------------------------
function field(labelText, input, hint) {
  return h("label", labelText, input, hint ? h("span.hint", hint) : null);
}
function localInput(iso) {
  const d = iso ? new Date(iso) : new Date();
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
const toIso = (v) => (v ? new Date(v).toISOString() : undefined);
function modal(title, body, onClose) {
  const dlg = h("dialog.cw-modal", h("div.cw-modal-head", h("h3", title), h("button.link", { type: "button", on: { click: () => close() } }, "×")), body);
  const close = () => { dlg.close(); dlg.remove(); if (onClose) onClose(); };
  document.body.append(dlg);
  dlg.addEventListener("cancel", (e) => { e.preventDefault(); close(); });
  dlg.showModal();
  return { dlg, close };
}
async function errorToast(e) { toast(e.message || String(e), "error"); }

// Upload a file (a scanned record) the way the upload page does: SHA-256 first, then tus.
function uploadFile(file, onProgress) {
  return sha256File(file, () => {}).then((sha256) => new Promise((resolve, reject) => {
    let evidenceId = null;
    const up = new window.tus.Upload(file, {
      endpoint: "/api/v1/uploads/", chunkSize: 16 * 1024 * 1024, retryDelays: [0, 1000, 3000],
      metadata: { filename: file.name, sha256 },
      onBeforeRequest: (req) => { req.setHeader("Authorization", `Bearer ${token()}`); },
      onAfterResponse: (_req, res) => { const id = res.getHeader("Custodian-Evidence-Id"); if (id) evidenceId = id; },
      onProgress: (sent, total) => onProgress && onProgress(total ? sent / total : 0),
      onError: (err) => {
        let msg = err.message;
        try { msg = JSON.parse(err.originalResponse.getBody()).error || msg; } catch (e) { /* keep */ }
        reject(new Error(msg));
      },
      onSuccess: () => (evidenceId ? resolve(evidenceId) : reject(new Error("no evidence id"))),
    });
    up.start();
  }));
}
async function attachScan(caseId, recordId, file) {
  toast(t("cw_uploading"));
  const evidenceId = await uploadFile(file);
  await api(`/api/v1/cases/${caseId}/records/${recordId}/attachments`, { method: "POST", body: { evidence_id: evidenceId } });
  toast(t("cw_attached"), "ok");
}

// -- officers: from the registry when it has entries, free text otherwise ----------------------
async function registryOfficers() {
  try {
    const r = await api("/api/v1/officers?limit=200");
    return (r.items || []).filter((o) => !o.status || o.status === "active");
  } catch (e) { return []; }
}
function officerPicker(registry, chosen) {
  // chosen: [{officer_id, name, certificate_no}]; registry officers are ticked, anyone else (the
  // registry is empty, or the officer is not in it) is entered by name and certificate number.
  const box = h("div.cw-officers", { dataset: { name: "officers" } });
  const ids = new Set(chosen.map((o) => o.officer_id).filter(Boolean));
  if (registry.length) {
    box.append(h("div.hint", t("cw_officers_registry")),
      h("div.cw-checks", registry.map((o) => h("label.inline", h("input", { type: "checkbox", name: "officers", value: String(o.id), checked: ids.has(o.id) }),
        `${o.name}${paren(o.certificate || o.certificate_no || o.code || "")}`))));
  }
  const rows = h("div.cw-free");
  const addRow = (o = {}) => {
    const row = h("div.row.cw-officer-row",
      h("input", { type: "text", name: "name", placeholder: t("cw_officer_name"), value: o.name || "", maxLength: 200 }),
      h("input", { type: "text", name: "certificate_no", placeholder: t("cw_certificate"), value: o.certificate_no || "", maxLength: 100 }),
      h("button.small", { type: "button", on: { click: () => row.remove() } }, t("cw_remove")));
    rows.append(row);
  };
  const free = chosen.filter((o) => !o.officer_id || !registry.some((r) => r.id === o.officer_id));
  if (free.length) free.forEach(addRow);
  else if (!registry.length) addRow();
  box.append(registry.length ? null : h("div.hint", t("cw_officers_free")), rows,
    h("button.small", { type: "button", dataset: { action: "officer-add" }, on: { click: () => addRow() } }, t("cw_add_officer")));
  box.read = () => [
    ...[...box.querySelectorAll("input[name=officers]:checked")].map((i) => Number(i.value)),
    ...[...rows.querySelectorAll(".cw-officer-row")].map((r) => ({
      name: r.querySelector("[name=name]").value.trim(), certificate_no: r.querySelector("[name=certificate_no]").value.trim(),
    })).filter((o) => o.name),
  ];
  return box;
}

// -- case list -------------------------------------------------------------------------------
async function viewCases(root, params) {
  const f = Object.fromEntries(["q", "enforcement_type", "status", "stage", "from", "to", "cursor"].map((k) => [k, params.get(k) || ""]));
  const prev = (params.get("prev") || "").split(",").filter((x) => x !== "");
  const q = h("input#case-q", { type: "search", name: "q", value: f.q, placeholder: t("search_placeholder") });
  const sel = (id, name, kind, values, value) => h(`select#${id}`, { name }, h("option", { value: "" }, t("all")), values.map((v) => h("option", { value: v, selected: v === value }, label(kind, v))));
  const type = sel("case-type", "enforcement_type", "enforcement_type", ENFORCEMENT_TYPES, f.enforcement_type);
  const status = sel("case-status", "status", "case_status", vocab("case_status"), f.status);
  const stage = sel("case-stage", "stage", "stage", STAGES, f.stage);
  const from = h("input#case-from", { type: "date", name: "from", value: f.from });
  const to = h("input#case-to", { type: "date", name: "to", value: f.to });
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
    h("td", h("a.case-link", { href: `#/cases/${c.id}` }, c.number)),
    h("td", c.title),
    h("td", label("enforcement_type", c.enforcement_type)),
    h("td", label("procedure", c.procedure)),
    h("td", names(c.parties)),
    h("td", names(c.officers)),
    h("td", label("stage", c.current_stage)),
    h("td", label("case_status", c.status)),
    h("td", fmtDate(c.opened_at))));
  const cur = f.cursor;
  const pager = h("div.pager",
    h("button#page-prev", { disabled: !prev.length, on: { click: () => { const p = [...prev]; const back = p.pop(); go({ cursor: back === "-" ? "" : back, prev: p.join(",") }); } } }, t("prev_page")),
    h("button#page-next", { disabled: !page.next, on: { click: () => go({ cursor: page.next, prev: [...prev, cur || "-"].join(",") }) } }, t("next_page")));
  clear(root,
    h("div.toolbar", h("h2", t("nav_cases")), WRITE_ROLES.has(me().role) ? h("a.button.primary#case-new", { href: "#/cases/new", dataset: { action: "case-new" } }, `+ ${t("cw_new_case")}`) : null),
    form,
    h("table.grid#case-table", h("tr", [t("case_number"), t("case_title"), t("filter_type"), t("cw_procedure"), t("party"), t("officers"), t("current_stage"), t("status"), t("cw_opened_col")].map((x) => h("th", x))),
      rows.length ? rows : h("tr", h("td.empty", { colSpan: 9 }, t("no_cases")))), pager);
}

// -- new / edit case -------------------------------------------------------------------------
const startWording = (type, procedure) => (procedure === "simple" || type === "licensing" ? "cw_opened_start" : "cw_opened_filing");

async function viewCaseForm(root, caseId) {
  const [c, registry] = await Promise.all([caseId ? api(`/api/v1/cases/${caseId}`) : null, registryOfficers()]);
  const editing = Boolean(c);
  const number = h("input", { type: "text", name: "number", required: true, maxLength: 100, value: c ? c.number : "", disabled: editing });
  const title = h("input", { type: "text", name: "title", required: true, maxLength: 500, value: c ? c.title : "" });
  const type = h("select", { name: "enforcement_type", disabled: editing }, ENFORCEMENT_TYPES.map((v) => h("option", { value: v, selected: c && c.enforcement_type === v }, label("enforcement_type", v))));
  const procedure = h("select", { name: "procedure", disabled: editing }, ["general", "simple"].map((v) => h("option", { value: v, selected: c && c.procedure === v }, label("procedure", v))));
  const openedLabel = h("span", t(startWording(type.value, procedure.value)));
  const opened = h("input", { type: "datetime-local", name: "opened_at", value: localInput(c ? c.opened_at : null), disabled: editing });
  const relabel = () => { openedLabel.textContent = t(startWording(type.value, procedure.value)); };
  type.addEventListener("change", relabel); procedure.addEventListener("change", relabel);
  const flag = (name, key, on) => h("label.inline", h("input", { type: "checkbox", name, checked: Boolean(on), disabled: editing && name === "emergency_start" }), t(key));
  const emergency = flag("emergency_start", "cw_emergency", c && c.emergency_start);
  const major = flag("major", "cw_major", c && c.major);
  const disputed = flag("disputed", "cw_disputed", c && c.disputed);
  const parties = h("textarea", { name: "parties", rows: 3 }, c ? c.parties.map((p) => p.name).join("\n") : "");
  const description = h("textarea", { name: "description", rows: 3 }, c ? c.description : "");
  const officers = officerPicker(registry, c ? c.officers : []);
  const err = h("div.error#case-form-error");
  const save = h("button.primary#case-save", { type: "submit", dataset: { action: "case-save" } }, t("cw_save"));
  const form = h("form.panel.cw-form#case-form", {
    on: {
      submit: async (e) => {
        e.preventDefault(); err.textContent = "";
        const body = {
          title: title.value.trim(),
          parties: parties.value.split("\n").map((x) => x.trim()).filter(Boolean),
          officers: officers.read(),
          description: description.value.trim(),
          major: major.querySelector("input").checked,
          disputed: disputed.querySelector("input").checked,
        };
        if (!editing) {
          Object.assign(body, {
            number: number.value.trim(), enforcement_type: type.value, procedure: procedure.value,
            opened_at: toIso(opened.value), emergency_start: emergency.querySelector("input").checked,
          });
        }
        save.disabled = true;
        try {
          const saved = editing
            ? await api(`/api/v1/cases/${c.id}`, { method: "PATCH", body })
            : await api("/api/v1/cases", { method: "POST", body });
          toast(t(editing ? "cw_saved" : "cw_created"), "ok");
          location.hash = `#/cases/${saved.id}`;
        } catch (ex) { err.textContent = ex.message; save.disabled = false; }
      },
    },
  },
  h("div.cw-grid2",
    field(t("cw_number"), number), field(t("cw_title"), title),
    field(t("cw_type"), type), field(t("cw_procedure"), procedure),
    h("label", openedLabel, opened), h("div.cw-flags", emergency, major, disputed)),
  field(t("cw_parties"), parties, t("cw_parties_hint")),
  h("div.cw-field", h("div.cw-label", t("cw_officers")), officers),
  field(t("cw_description"), description),
  err, h("div.row", save, h("a.button", { href: c ? `#/cases/${c.id}` : "#/cases" }, t("cw_cancel"))));
  clear(root, h("div.toolbar", h("a.button", { href: "#/cases" }, `← ${t("cw_back_cases")}`), h("h2", t(editing ? "cw_edit_case" : "cw_new_case"))), form);
  title.focus();
}

// -- footage cards (thumbnail from the trickplay sprite) ----------------------------------------
const detailCache = new Map();
function itemDetail(id) {
  if (!detailCache.has(id)) detailCache.set(id, api(`/api/v1/evidence/${id}`).catch((e) => { detailCache.delete(id); throw e; }));
  return detailCache.get(id);
}
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
      const cue = cues[Math.min(cues.length - 1, 1)] || cues[0];
      if (!cue) return;
      const url = await blobUrl(`/api/v1/evidence/${id}/${cue.sheet}`);
      const scale = 96 / cue.w;
      Object.assign(thumb.style, { backgroundImage: `url("${url}")`, backgroundPosition: `-${cue.x * scale}px -${cue.y * scale}px`, width: `${cue.w * scale}px`, height: `${cue.h * scale}px` });
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

// -- findings (问题提示) ------------------------------------------------------------------------
const findingStage = (f) => f.stage || ((f.records || [])[0] || {}).stage || null;
const findingRecord = (f) => f.record_id || (((f.records || [])[0] || {}).kind === "record" ? f.records[0].id : null);
const findingText = (f) => (en() && f.message_en ? f.message_en : f.message || f.message_zh || f.rule);
function findingEl(f, p) {
  const rid = findingRecord(f);
  const rec = rid ? (f.records || []).find((r) => r.id === rid) : null;
  const doc = rec && rec.doc_type ? entryLabel(find(p.doc_types, rec.doc_type), rec.doc_type) : "";
  return h(`li.finding.${f.severity || "info"}`, { dataset: { rule: f.rule || "", code: f.code || "", record: rid || "" } },
    h("span.badge", label("severity", f.severity || "info")), " ",
    f.article ? h("b", `${article(f.article)} `) : null, findingText(f),
    rid ? h("a.cw-ref", { href: `#rec-${rid}`, on: { click: (e) => { e.preventDefault(); const el = document.getElementById(`rec-${rid}`); if (el) el.scrollIntoView({ block: "center" }); } } }, ` → ${doc || t("cw_records")}`) : null);
}
function missingEl(m) {
  const text = en() ? m.label_en || m.label_zh : m.label_zh || m.label_en;
  return h("li.finding.error.cw-missing-item", { dataset: { requirement: m.requirement || m.rule || "" } },
    h("span.badge", label("severity", "error")), " ", m.article ? h("b", `${article(m.article)} `) : null, text);
}

// -- the case page -----------------------------------------------------------------------------
const lastMissing = new Map(); // caseId -> archiving blockers from the last refused attempt

async function viewCase(root, caseId) {
  const [c, p, , proposals] = await Promise.all([
    api(`/api/v1/cases/${caseId}`), pack(), loadMe(),
    api(`/api/v1/cases/${caseId}/proposals`).catch(() => ({ items: [] })),
  ]);
  const s = me();
  const canWrite = WRITE_ROLES.has(s.role) && c.status !== "archived";
  const findings = c.findings || [];
  // What the last refused archiving listed, less what has been added since.
  const satisfied = (m) => (m.any_of
    ? m.any_of.some((ref) => (ref.startsWith("approval:")
      ? (c.approvals || []).some((a) => a.kind === ref.slice(9) && a.status === "approved")
      : (c.records || []).some((r) => r.doc_type === ref)))
    : !findings.some((f) => f.rule === m.rule));
  const missing = (lastMissing.get(c.id) || []).filter((m) => !satisfied(m));
  const stageIdx = STAGES.indexOf(c.current_stage);
  const next = STAGES[stageIdx + 1];
  const linkedIds = new Set((c.items || []).map((i) => i.id));
  const stageLabel = (id) => entryLabel(find(p.stages, id), label("stage", id));

  const sections = STAGES.map((id, n) => {
    const st = (c.stages || []).find((x) => x.stage === id) || { records: [], approvals: [], items: [], superseded: [] };
    const reached = n <= stageIdx;
    // The archiving stage's 文书 (结案报告, 卷宗目录) are written before the case is archived.
    const writable = canWrite && (reached || (id === "archiving" && next === "archiving"));
    const sf = findings.filter((f) => findingStage(f) === id);
    const sm = missing.filter((m) => (m.stage || ((m.records || [])[0] || {}).stage) === id);
    // A scan attached to a 文书 is shown under it, not among the stage's audio-visual records.
    const footage = (st.items || []).filter((i) => !(i.record_id && i.kind === "document"));
    const videos = footage.filter((i) => !i.kind || i.kind === "video");
    const attachments = (rid) => (st.items || []).filter((i) => i.record_id === rid);
    return h(`li.stage-col.cw-stage${c.current_stage === id ? ".current" : ""}${reached ? "" : ".future"}`, { dataset: { stage: id } },
      h("div.cw-stage-head",
        h("h3", h("span.step", String(n + 1)), stageLabel(id), c.current_stage === id ? h("span.badge.cw-now", t("cw_current")) : null),
        h("span.spacer"),
        writable ? h("button.small", { dataset: { action: "record-add", stage: id }, on: { click: () => recordDialog(c, p, id) } }, `+ ${t("cw_add_record")}`) : null,
        canWrite && reached && (p.approval_kinds || []).some((k) => k.stage === id) ? h("button.small", { dataset: { action: "approval-request", stage: id }, on: { click: () => approvalDialog(c, p, id) } }, `+ ${t("cw_request_approval")}`) : null),
      sm.length ? h("div.cw-missing", h("h4", t("cw_missing")), h("ul.findings", sm.map(missingEl))) : null,
      sf.length ? h("div.cw-stage-findings", h("h4", t("cw_findings")), h("ul.findings", sf.map((f) => findingEl(f, p)))) : null,
      writable || reached || (st.records || []).length || (st.items || []).length ? h("div.cw-stage-body",
        h("div.cw-col",
          h("h4", `${t("cw_records")} (${(st.records || []).length})`),
          h("ul.records.cw-records", (st.records || []).length || (st.superseded || []).length
            ? [...st.records.map((r) => recordEl(c, p, r, attachments(r.id), sf, writable)), ...(st.superseded || []).map((r) => recordEl(c, p, r, attachments(r.id), [], false, true))]
            : h("li.dim", t("cw_no_records"))),
          h("h4", `${t("cw_approvals")} (${(st.approvals || []).length})`),
          h("div.cw-approvals", (st.approvals || []).length ? st.approvals.map((a) => approvalEl(a, p, c)) : h("p.dim", t("cw_no_approvals")))),
        h("div.cw-col",
          h("h4", `${t("cw_footage")} (${footage.length})`,
            videos.length > 1 ? h("a.button.small.mc-link", { href: `#/cases/${caseId}/multicam/${id}` }, t("cw_multicam")) : null),
          h("div.cards", footage.length ? footage.map((i) => itemCard(i, caseId)) : h("p.dim", t("cw_no_footage")))))
        : h("p.dim", t("cw_not_reached")));
  });

  const advance = canWrite && next && next !== "archiving"
    ? h("button.primary#stage-advance", { dataset: { action: "stage-advance", to: next }, on: { click: () => moveTo(c, next) } }, fmt("cw_advance_to", { stage: stageLabel(next) }))
    : null;
  const archive = canWrite && next
    ? h(`button${next === "archiving" ? ".primary" : ""}#case-archive`, { dataset: { action: "case-archive" }, on: { click: () => moveTo(c, "archiving") } }, t("cw_archive"))
    : null;
  const general = findings.filter((f) => !STAGES.includes(findingStage(f)));
  const startKey = startWording(c.enforcement_type, c.procedure);
  const exportBox = h("section.panel#export-panel");
  const unlinkedBox = h("div#unlinked");
  clear(root,
    h("div.toolbar.cw-case-head",
      h("a.button", { href: "#/cases" }, "←"),
      h("h2#case-title", `${c.number} ${c.title}`),
      h("span.badge", label("enforcement_type", c.enforcement_type)), h("span.badge", label("procedure", c.procedure)),
      h("span.badge#case-status", { dataset: { status: c.status } }, label("case_status", c.status)),
      c.emergency_start ? h("span.badge.warn", t("cw_emergency").split("（")[0].split(" (")[0]) : null,
      h("span.spacer"),
      custodyButton("case", c.id, root),
      canWrite ? h("a.button#case-edit", { href: `#/cases/${c.id}/edit`, dataset: { action: "case-edit" } }, t("cw_edit_case")) : null,
      advance, archive),
    h("div.case-meta.dim",
      h("span", `${t(startKey)}${COLON()}${fmtDate(c.opened_at)}`), " · ",
      h("span#case-parties", `${t("cw_parties")}${COLON()}${names(c.parties) || "—"}`), " · ",
      h("span#case-officers", `${t("cw_officers")}${COLON()}${names(c.officers) || "—"}`), " · ",
      h("span", `${t("current_stage")}${COLON()}${stageLabel(c.current_stage)}`),
      c.status === "archived" ? h("b.ok", ` · ${t("cw_archived")}`) : null),
    missing.length ? h("div.banner.damaged#archive-refused", t("cw_archive_refused")) : null,
    h("div.cw-case-grid",
      h("ol.stages.cw-stages#stage-timeline", sections),
      h("div.cw-side",
        h("section.panel#findings", h("h3", t("cw_findings")),
          findings.length ? h("ul.findings", [...general, ...findings.filter((f) => STAGES.includes(findingStage(f)))].map((f) => h("li.cw-find-row", h("span.dim", `${stageLabel(findingStage(f)) || ""} `), findingEl(f, p))))
            : h("p.ok#no-findings", t("cw_no_findings"))),
        exportBox,
        canWrite ? h("section.panel", h("h3", t("cw_unlinked")), unlinkedBox) : null)));
  renderExport(exportBox, c);
  if (canWrite) renderUnlinked(unlinkedBox, c, linkedIds, (proposals && proposals.items) || []);
}

async function moveTo(c, stage) {
  try {
    await api(`/api/v1/cases/${c.id}/stage`, { method: "POST", body: { stage } });
    lastMissing.delete(c.id);
    toast(stage === "archiving" ? t("cw_archived_ok") : fmt("cw_advanced", { stage: label("stage", stage) }), "ok");
  } catch (e) {
    if (e.code === "archiving_refused" && e.body && e.body.missing) lastMissing.set(c.id, e.body.missing);
    else return errorToast(e);
    toast(t("cw_archive_refused"), "warn");
  }
  rerender();
}

function recordEl(c, p, r, attachments, stageFindings, canWrite, superseded = false) {
  const doc = find(p.doc_types, r.doc_type);
  const flagged = stageFindings.some((f) => findingRecord(f) === r.id);
  const fileIn = h("input.hidden", { type: "file", accept: "application/pdf,image/jpeg", on: {
    change: async () => {
      const file = fileIn.files[0]; if (!file) return;
      try { await attachScan(c.id, r.id, file); rerender(); } catch (e) { errorToast(e); }
    },
  } });
  const fields = Object.entries(r.fields || {}).filter(([, v]) => v !== "" && v != null);
  return h(`li.cw-record${superseded ? ".superseded" : ""}${flagged ? ".flagged" : ""}`, { id: `rec-${r.id}`, dataset: { id: r.id, docType: r.doc_type, signature: r.signature_status } },
    h("div.cw-rec-line",
      h("b.cw-doc", entryLabel(doc, r.doc_type)), r.title ? h("span", ` ${r.title}`) : null, " ",
      h("span.dim", { title: t("cw_claimed_time") }, fmtDate(r.time)),
      " ", h(`span.badge${r.signature_status === "refused" ? ".warn" : ""}.cw-sig`, label("signature_status", r.signature_status)),
      r.service_method ? h("span.badge", entryLabel(find(p.service_methods, r.service_method), r.service_method)) : null,
      r.execution_type ? h("span.badge", entryLabel(find(p.execution_types, r.execution_type), r.execution_type)) : null,
      superseded ? h("span.badge.cw-superseded", t("cw_superseded")) : null),
    (r.officers || []).length ? h("div.dim", `${t("cw_officers")}${COLON()}`, r.officers.map((o) => `${o.name}${o.certificate_no ? paren(o.certificate_no) : ""}${o.shown ? " ✓" : ""}`).join(LIST())) : null,
    r.witness ? h("div.dim", `${t("cw_witness")}${COLON()}${r.witness}`) : null,
    fields.length ? h("dl.cw-fields", fields.map(([k, v]) => [h("dt", label("field", k)), h("dd", Array.isArray(v) ? v.join(LIST()) : String(v))])) : null,
    attachments.length ? h("div.cw-attach", `${t("cw_attachments")}${COLON()}`, attachments.map((i) => h("a.cw-attachment", { href: `#/evidence/${i.id}?case=${c.id}`, dataset: { id: i.id } }, i.original_filename || i.id))) : null,
    canWrite && !superseded ? h("div.cw-rec-actions",
      h("button.small", { dataset: { action: "record-correct", id: r.id }, on: { click: () => recordDialog(c, p, r.stage, r) } }, t("cw_correct")),
      UPLOAD_ROLES.has(me().role) ? h("button.small", { dataset: { action: "record-attach", id: r.id }, on: { click: () => fileIn.click() } }, t("cw_attach")) : null,
      fileIn) : null);
}

async function recordDialog(c, p, stage, old = null) {
  const registry = await registryOfficers();
  const types = (p.doc_types || []).filter((d) => d.stage === stage);
  const docType = h("select", { name: "doc_type", required: true }, types.map((d) => h("option", { value: d.id, selected: old && old.doc_type === d.id }, entryLabel(d))));
  const title = h("input", { type: "text", name: "title", maxLength: 500, value: old ? old.title : "" });
  const time = h("input", { type: "datetime-local", name: "time", required: true, value: localInput(old ? old.time : null) });
  const endTime = h("input", { type: "datetime-local", name: "end_time", value: old && old.end_time ? localInput(old.end_time) : "" });
  const sig = h("select", { name: "signature_status" }, ["signed", "refused", "not_applicable"].map((v) => h("option", { value: v, selected: (old ? old.signature_status : "signed") === v }, label("signature_status", v))));
  const method = h("select", { name: "service_method" }, h("option", { value: "" }, "—"), (p.service_methods || []).map((m) => h("option", { value: m.id, selected: old && old.service_method === m.id }, entryLabel(m))));
  const execution = h("select", { name: "execution_type" }, h("option", { value: "" }, "—"), (p.execution_types || []).map((m) => h("option", { value: m.id, selected: old && old.execution_type === m.id }, entryLabel(m))));
  const witness = h("input", { type: "text", name: "witness", maxLength: 200, value: old ? old.witness : "" });
  const scan = h("input", { type: "file", name: "scan", accept: "application/pdf,image/jpeg" });
  // Officers present: the case's officers (tick who was there and showed the certificate) or free text.
  const caseOfficers = (c.officers || []).length ? c.officers : registry.map((o) => ({ officer_id: o.id, name: o.name, certificate_no: o.certificate || "" }));
  const present = new Set((old ? old.officers : []).map((o) => o.officer_id || o.name));
  const offRows = h("div.cw-rec-officers", caseOfficers.map((o) => h("div.row.cw-rec-officer", { dataset: { officer: o.officer_id || "", name: o.name, cert: o.certificate_no || "" } },
    h("label.inline", h("input", { type: "checkbox", name: "officers", checked: !old || present.has(o.officer_id || o.name) }), `${o.name}${paren(o.certificate_no || "—")}`),
    h("label.inline", h("input", { type: "checkbox", name: "shown", checked: true }), t("cw_shown")))));
  const extra = officerPicker([], []);
  const fieldsBox = h("div.cw-doc-fields");
  const refusalBox = h("div");
  const renderFields = () => {
    const keys = [...new Set([...(TYPE_FIELDS[docType.value] || []), ...docFields(p, docType.value, { service_method: method.value }), "content"])];
    const prevVals = Object.fromEntries([...fieldsBox.querySelectorAll("[data-field]"), ...refusalBox.querySelectorAll("[data-field]")].map((i) => [i.dataset.field, i.value]));
    const value = (k) => prevVals[k] ?? (old && old.fields ? String(old.fields[k] ?? "") : "");
    clear(fieldsBox, keys.map((k) => field(label("field", k), k === "content"
      ? h("textarea", { name: `fields.${k}`, dataset: { field: k }, rows: 2 }, value(k))
      : h("input", { name: `fields.${k}`, dataset: { field: k }, type: "text", value: value(k) }))));
    clear(refusalBox, sig.value === "refused" ? field(label("field", "refusal"), h("textarea", { name: "fields.refusal", dataset: { field: "refusal" }, rows: 2 }, value("refusal"))) : null);
  };
  docType.addEventListener("change", renderFields); sig.addEventListener("change", renderFields); method.addEventListener("change", renderFields);
  renderFields();
  const err = h("div.error");
  const save = h("button.primary#record-save", { type: "submit", dataset: { action: "record-save" } }, t("cw_save"));
  const form = h("form.cw-form#record-form", {
    on: {
      submit: async (e) => {
        e.preventDefault(); err.textContent = "";
        const fields = {};
        for (const i of form.querySelectorAll("[data-field]")) if (i.value.trim()) fields[i.dataset.field] = i.value.trim();
        const officers = [...offRows.querySelectorAll(".cw-rec-officer")].filter((r) => r.querySelector("[name=officers]").checked).map((r) => {
          const shown = r.querySelector("[name=shown]").checked;
          return r.dataset.officer ? { officer: Number(r.dataset.officer), shown } : { name: r.dataset.name, certificate_no: r.dataset.cert, shown };
        });
        for (const o of extra.read()) officers.push({ ...o, shown: true });
        const body = {
          doc_type: docType.value, stage, title: title.value.trim(), time: toIso(time.value), signature_status: sig.value,
          officers, fields, witness: witness.value.trim(),
        };
        if (endTime.value) body.end_time = toIso(endTime.value);
        if (stage === "service_execution" && method.value) body.service_method = method.value;
        if (stage === "service_execution" && execution.value) body.execution_type = execution.value;
        if (old) body.supersedes = old.id;
        save.disabled = true;
        try {
          const rec = await api(`/api/v1/cases/${c.id}/records`, { method: "POST", body });
          if (scan.files && scan.files[0]) await attachScan(c.id, rec.id, scan.files[0]);
          toast(t("cw_saved"), "ok"); dialog.close(); rerender();
        } catch (ex) { err.textContent = ex.message; save.disabled = false; }
      },
    },
  },
  h("div.cw-grid2", field(t("cw_doc_type"), docType), field(t("cw_record_title"), title),
    field(t("cw_time"), time), field(t("cw_end_time"), endTime),
    field(t("cw_signature"), sig), field(t("cw_witness"), witness),
    stage === "service_execution" ? field(t("cw_service_method"), method) : null,
    stage === "service_execution" ? field(t("cw_execution_type"), execution) : null),
  h("div.cw-field", h("div.cw-label", t("cw_officers")), caseOfficers.length ? offRows : null, extra),
  fieldsBox, refusalBox,
  UPLOAD_ROLES.has(me().role) ? field(t("cw_scan"), scan) : null,
  err, h("div.row", save));
  const dialog = modal(`${old ? t("cw_correcting") : t("cw_add_record")} · ${label("stage", stage)}`, form);
}

// -- approvals ---------------------------------------------------------------------------------
const personName = (x) => (x ? x.display_name || x.username : "—");
function approvalEl(a, p, c) {
  const kind = find(p.approval_kinds, a.kind);
  const byRole = {};
  for (const d of a.decisions || []) byRole[d.role] = d;
  const people = a.people || {};
  const waiting = a.waiting_for;
  const rows = ["handler", "reviewer", "approver"].map((role) => {
    const d = byRole[role];
    return h("tr", { dataset: { role } },
      h("th", label("approval_role", role)), h("td", personName(people[role])),
      h("td", d ? h("span", label("decision", d.decision), " ", h("span.dim", fmtDate(d.at))) : (waiting && waiting.role === role ? h("span.badge.warn", t("cw_waiting")) : "—")),
      h("td.cw-opinion", d ? d.opinion || "" : ""));
  });
  const mine = waiting && waiting.user_id === me().user_id;
  const fields = Object.entries(a.fields || {}).filter(([k, v]) => v && !["unit_opinion", "approver_opinion"].includes(k));
  return h(`div.cw-approval.${a.status}`, { dataset: { id: a.id, status: a.status, kind: a.kind } },
    h("div.cw-rec-line", h("b", entryLabel(kind, a.kind)), " ", h(`span.badge.cw-status-${a.status}`, label("approval_status", a.status)),
      a.approved_at ? h("span.dim", ` ${fmtDate(a.approved_at)}`) : null),
    fields.length ? h("dl.cw-fields", fields.map(([k, v]) => [h("dt", label("field", k)), h("dd", String(v))])) : null,
    h("table.cw-people", rows),
    mine && c && c.status !== "archived" ? decideWidget(a) : null);
}
function decideWidget(a) {
  const opinion = h("textarea", { name: "opinion", rows: 2, placeholder: t("cw_opinion") });
  const send = async (decision, btn) => {
    btn.disabled = true;
    try {
      await api(`/api/v1/approvals/${a.id}/decision`, { method: "POST", body: { decision, opinion: opinion.value.trim() } });
      toast(t("cw_decided"), "ok"); rerender();
    } catch (e) { errorToast(e); btn.disabled = false; }
  };
  const yes = h("button.primary", { type: "button", dataset: { action: "approval-decide", decision: "approve", id: a.id }, on: { click: () => send("approve", yes) } }, t("cw_approve"));
  const no = h("button", { type: "button", dataset: { action: "approval-decide", decision: "reject", id: a.id }, on: { click: () => send("reject", no) } }, t("cw_reject"));
  return h("div.cw-decide", { dataset: { id: a.id } }, h("div.cw-label", `${t("cw_decide_here")}${paren(label("approval_role", a.waiting_for.role))}`), opinion, h("div.row", yes, no));
}

async function approvalDialog(c, p, stage) {
  const people = (await api(`/api/v1/cases/${c.id}/people`)).items.filter((x) => x.id !== me().user_id);
  // A legal review is asked for by the legal office itself (the server refuses others).
  const kinds = (p.approval_kinds || []).filter((k) => k.stage === stage && (!k.legal_only || ["legal", "admin"].includes(me().role)));
  const kind = h("select", { name: "kind" }, kinds.map((k) => h("option", { value: k.id }, entryLabel(k))));
  const pick = (name) => h("select", { name, required: true }, h("option", { value: "" }, t("cw_choose")),
    people.map((x) => h("option", { value: String(x.id) }, `${x.display_name}${paren(label("role", x.role))}`)));
  const reviewer = pick("reviewer_id"), approver = pick("approver_id");
  const fieldsBox = h("div.cw-doc-fields");
  const formFields = () => {
    // The form asks what the pack's approval_fields rules ask of this kind ("a|b": either name),
    // except the opinions the reviewer and approver give themselves when they decide.
    const asked = (p.rules || []).filter((r) => r.check === "approval_fields" && r.params && r.params.kind === kind.value)
      .flatMap((r) => r.params.fields || []).map((f) => String(f).split("|")[0]);
    const keys = [...new Set([...asked, "handler_opinion"])].filter((k) => !["unit_opinion", "approver_opinion"].includes(k));
    clear(fieldsBox, keys.map((k) => field(label("field", k), h(k === "reason" || k.endsWith("opinion") ? "textarea" : "input", { name: k, type: "text", rows: 2, dataset: { field: k } }))));
  };
  kind.addEventListener("change", formFields);
  formFields();
  const err = h("div.error");
  const save = h("button.primary#approval-submit", { type: "submit", dataset: { action: "approval-submit" } }, t("cw_submit_request"));
  const form = h("form.cw-form#approval-form", {
    on: {
      submit: async (e) => {
        e.preventDefault(); err.textContent = "";
        if (!reviewer.value || !approver.value) { err.textContent = t("cw_people_required"); return; }
        const body = { kind: kind.value, reviewer_id: Number(reviewer.value), approver_id: Number(approver.value) };
        for (const i of fieldsBox.querySelectorAll("[data-field]")) if (i.value.trim()) body[i.dataset.field] = i.value.trim();
        save.disabled = true;
        try {
          await api(`/api/v1/cases/${c.id}/approvals`, { method: "POST", body });
          toast(t("cw_requested"), "ok"); dialog.close(); rerender();
        } catch (ex) { err.textContent = ex.message; save.disabled = false; }
      },
    },
  },
  h("div.cw-grid2", field(t("cw_approval_kind"), kind), field(label("approval_role", "handler"), h("input", { type: "text", value: me().username, disabled: true })),
    field(label("approval_role", "reviewer"), reviewer), field(label("approval_role", "approver"), approver)),
  fieldsBox, err, h("div.row", save));
  const dialog = modal(`${t("cw_request_approval")} · ${label("stage", stage)}`, form);
}

async function viewApprovals(root) {
  const [pending, all, p] = await Promise.all([api("/api/v1/approvals?pending=me"), api("/api/v1/approvals"), pack(), loadMe()]);
  const myRole = (a) => ["handler", "reviewer", "approver"].find((r) => a[`${r}_id`] === me().user_id);
  const card = (a, decide) => h("div.panel.cw-pending", { dataset: { id: a.id, case: a.case_id } },
    h("div.cw-rec-line",
      h("a", { href: `#/cases/${a.case_id}` }, `${a.case_number} ${a.case_title}`), " · ",
      h("b", entryLabel(find(p.approval_kinds, a.kind), a.kind)), " · ",
      h("span.dim", `${label("stage", a.stage)} · ${t("cw_requested_at")} ${fmtDate(a.created_at)} · ${t("cw_my_role")}${COLON()}${label("approval_role", myRole(a))}`)),
    approvalEl(a, p, decide ? { status: "open" } : null));
  const history = all.items.filter((a) => !pending.items.some((x) => x.id === a.id));
  clear(root,
    h("h2", t("cw_pending_title")),
    h("div#pending-approvals", pending.items.length ? pending.items.map((a) => card(a, true)) : h("p.dim#pending-none", t("cw_pending_none"))),
    history.length ? h("h3.cw-history-title", t("cw_history")) : null,
    h("div#approval-history", history.map((a) => card(a, false))));
}

// -- linking footage -------------------------------------------------------------------------
async function renderUnlinked(box, c, linkedIds, proposals) {
  let items = [];
  try { items = (await api(`/api/v1/evidence${qs({ unlinked: 1, limit: 50 })}`)).items; } catch (e) { items = []; }
  items = items.filter((i) => !linkedIds.has(i.id) && (!i.links || !i.links.length) && (i.cases === undefined || !i.cases.length));
  const proposalFor = new Map(proposals.map((p) => [p.evidence_id, p]));
  const row = (it, p) => {
    const stageSel = h("select.link-stage", { name: "stage" }, STAGES.slice(0, 4).map((s) => h("option", { value: s, selected: p ? p.stage === s : c.current_stage === s }, label("stage", s))));
    const btn = h("button.link-btn", {
      dataset: { action: "link", id: it.id },
      on: {
        click: async () => {
          btn.disabled = true;
          try {
            await api(`/api/v1/cases/${c.id}/links`, { method: "POST", body: { evidence_id: it.id, stage: stageSel.value, ...(p && p.record_id ? { record_id: p.record_id } : {}) } });
            toast(t("cw_linked"), "ok"); rerender();
          } catch (e) { errorToast(e); btn.disabled = false; }
        },
      },
    }, t("cw_link"));
    return h("tr.unlinked-row", { dataset: { id: it.id } },
      h("td", h("a", { href: `#/evidence/${it.id}?case=${c.id}` }, it.original_filename || shortHash(it.sha256) || it.id),
        h("div.dim", `${fmtDate(it.recorded_at)} · ${it.device_id || ""} · ${fmtSize(it.size)}`),
        p ? h("span.badge.proposal", `${t("cw_proposal")}${COLON()}${label("stage", p.stage)}`) : null),
      h("td", stageSel, " ", btn));
  };
  const seen = new Set();
  const rows = [];
  for (const p of proposals.filter((x) => !linkedIds.has(x.evidence_id))) {
    const it = items.find((i) => i.id === p.evidence_id) || { id: p.evidence_id, original_filename: p.original_filename, recorded_at: p.recorded_at, device_id: p.device_id };
    seen.add(p.evidence_id); rows.push(row(it, p));
  }
  for (const it of items) if (!seen.has(it.id)) rows.push(row(it, proposalFor.get(it.id)));
  clear(box, rows.length ? h("table.grid#unlinked-table", rows) : h("p.dim", t("cw_no_items")));
}

// -- export panel ------------------------------------------------------------------------------
async function downloadExport(e) {
  const r = await api(e.package.url, { raw: true });
  const disp = r.headers.get("Content-Disposition") || "";
  const m = disp.match(/filename\*=UTF-8''([^;]+)/) || disp.match(/filename="([^"]+)"/);
  const name = m ? decodeURIComponent(m[1]) : `${e.id}.zip`;
  const url = URL.createObjectURL(await r.blob());
  const a = h("a", { href: url, download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
let exportPoll = null;
async function renderExport(box, c) {
  if (exportPoll) { clearTimeout(exportPoll); exportPoll = null; }
  if (!EXPORT_ROLES.has(me().role)) { clear(box, h("h3", t("cw_export")), h("p.dim", t("cw_export_forbidden"))); return; }
  const [basket, past] = await Promise.all([
    api(`/api/v1/cases/${c.id}/basket`).catch(() => ({ items: [] })),
    api(`/api/v1/cases/${c.id}/exports`).catch(() => ({ items: [] })),
  ]);
  const items = c.items || [];
  const itemName = (id) => { const i = items.find((x) => x.id === id); return i ? i.original_filename || id : id; };
  const clipRows = basket.items.map((cl) => h("label.inline.cw-clip", { dataset: { clipId: String(cl.id) } },
    h("input", { type: "checkbox", name: "clips", value: String(cl.id), checked: true }),
    h("span", h("b", cl.name), h("span.dim", ` ${itemName(cl.evidence_id)} · ${t("cw_clip_start")} ${fmtMedia(cl.in_s)} · ${t("cw_clip_end")} ${fmtMedia(cl.out_s)}`))));
  const itemRows = items.filter((i, n) => items.findIndex((x) => x.id === i.id) === n).map((i) => h("label.inline.cw-item", { dataset: { id: i.id } },
    h("input", { type: "checkbox", name: "items", value: i.id, checked: true }), h("span", i.original_filename || i.id, h("span.dim", ` ${label("kind", i.kind)}`))));
  const recipient = h("input", { type: "text", name: "recipient", maxLength: 500, required: true });
  const purpose = h("input", { type: "text", name: "purpose", maxLength: 1000, required: true });
  const watermark = h("label.inline", h("input", { type: "checkbox", name: "watermark" }), t("cw_watermark"));
  const progress = h("div#export-progress");
  const err = h("div.error");
  const start = h("button.primary#export-start", { type: "submit", dataset: { action: "export-start" } }, t("cw_export_start"));
  const form = h("form.cw-form.hidden#export-form", {
    on: {
      submit: async (ev) => {
        ev.preventDefault(); err.textContent = "";
        const chosenClips = new Set([...form.querySelectorAll("input[name=clips]:checked")].map((i) => i.value));
        const body = {
          recipient: recipient.value.trim(), purpose: purpose.value.trim(), watermark: watermark.querySelector("input").checked,
          items: [...form.querySelectorAll("input[name=items]:checked")].map((i) => i.value),
          clips: basket.items.filter((cl) => chosenClips.has(String(cl.id))).map((cl) => ({ evidence_id: cl.evidence_id, in_s: cl.in_s, out_s: cl.out_s, name: cl.name })),
        };
        start.disabled = true;
        try {
          const e = await api(`/api/v1/cases/${c.id}/exports`, { method: "POST", body });
          toast(t("cw_export_queued"), "ok");
          follow(e);
        } catch (ex) { err.textContent = ex.message; start.disabled = false; }
      },
    },
  },
  h("h4", t("cw_clips")), clipRows.length ? h("div.cw-checks", clipRows) : h("p.dim", t("cw_no_clips")),
  h("h4", t("cw_items")), h("div.cw-checks", itemRows),
  field(t("cw_recipient"), recipient), field(t("cw_purpose"), purpose), watermark, err, h("div.row", start));
  const pastRows = h("table.grid#export-list", h("tr", [t("cw_when"), t("cw_requested_by"), `${t("cw_recipient")} / ${t("cw_purpose")}`, t("cw_export_state")].map((x) => h("th", x))),
    past.items.length ? past.items.map((e) => h("tr.export-row", { dataset: { id: e.id, state: e.state } },
      h("td", fmtDate(e.created_at)), h("td", String(e.requested_by || "").split(":").pop()),
      h("td", h("div", e.recipient), h("div.dim", e.purpose)),
      h("td", label("export_state", e.state), e.state === "done" ? h("div", h("button.small", { dataset: { action: "export-download", id: e.id }, on: { click: () => downloadExport(e).catch(errorToast) } }, t("cw_redownload"))) : null)))
      : h("tr", h("td.empty", { colSpan: 4 }, t("cw_no_exports"))));
  const follow = async (e) => {
    const state = label("export_state", e.state);
    if (e.state === "done") {
      clear(progress, h("div.cw-export-done", { dataset: { id: e.id, state: e.state } },
        h("span.ok", state), " ", h("code", shortHash(e.package && e.package.sha256)), " ",
        h("button.primary#export-download", { dataset: { action: "export-download", id: e.id }, on: { click: () => downloadExport(e).catch(errorToast) } }, t("cw_download"))));
      start.disabled = false;
      return;
    }
    if (e.state === "failed") { clear(progress, h("div.error", { dataset: { id: e.id, state: e.state } }, `${state}: ${e.error || ""}`)); start.disabled = false; return; }
    const bar = Number.isFinite(e.progress) && e.progress > 0 ? h("progress", { max: 1, value: e.progress }) : h("progress");
    clear(progress, h("div", { dataset: { id: e.id, state: e.state } }, bar, " ", h("span.dim", `${state}${Number.isFinite(e.progress) && e.progress > 0 ? ` ${Math.round(e.progress * 100)}%` : ""}`)));
    exportPoll = setTimeout(async () => {
      if (!box.isConnected) return;
      try { follow(await api(`/api/v1/exports/${e.id}`)); } catch (ex) { errorToast(ex); }
    }, 700);
  };
  const newBtn = h("button#export-new", { dataset: { action: "export-new" }, on: { click: () => { form.classList.toggle("hidden"); recipient.focus(); } } }, `+ ${t("cw_export_new")}`);
  clear(box, h("div.cw-stage-head", h("h3", t("cw_export")), h("span.spacer"), items.length ? newBtn : null), form, progress,
    h("h4", t("cw_past_exports")), pastRows);
  const running = past.items.find((e) => e.state === "queued" || e.state === "running");
  if (running) follow(running);
}

// -- routes ----------------------------------------------------------------------------------
registerView("cases", async (root, parts, params) => {
  if (parts[1] === "new") return viewCaseForm(root, null);
  if (parts[1] && parts[2] === "edit") return viewCaseForm(root, parts[1]);
  if (parts[1] && parts[2] === "multicam") {
    const c = await api(`/api/v1/cases/${parts[1]}`);
    const st = (c.stages || []).find((x) => x.stage === parts[3]) || { items: [] };
    const ids = (st.items || []).map((i) => i.id || i.evidence_id);
    return new Multicam(root, ids, { title: `${c.number || ""} · ${label("stage", parts[3])}`, back: `#/cases/${parts[1]}` }).mount();
  }
  if (parts[1]) {
    await viewCase(root, parts[1]);
    return { destroy() { if (exportPoll) { clearTimeout(exportPoll); exportPoll = null; } } };
  }
  return viewCases(root, params);
});
registerView("approvals", (root) => viewApprovals(root));
registerNav({ href: "#/approvals", key: "approvals", label: "nav_approvals", roles: ["officer", "reviewer", "legal", "admin"] });
