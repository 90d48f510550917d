// Browser upload (tus 1.0 via tus-js-client): SHA-256 first, then resumable upload with progress.
import { api, session, token } from "./api.js";
import { STAGES, addStrings, getLang, label, t } from "./i18n.js";
import { isPending, progressEl, watchItems } from "./processing.js";
import { sha256File } from "./sha256.js";
import { clear, fmtDate, fmtSize, h, shortHash, toast } from "./util.js";

const CHUNK = 16 * 1024 * 1024;

addStrings({
  "zh-CN": { upload_server_error: "服务器拒绝了上传", upload_network_error: "网络中断，可点“继续”从断点续传", no_file_chosen: "未选择文件", device_opt: "执法记录仪编号（可选）", officer_opt: "执法人员编号（可选）", name_parsed: "已按文件名识别：", name_unparsed: "文件名中未识别出录制时间，请手动填写", upload_agency: "所属机构代码（本账号不属于任何机构，必填）" },
  en: { upload_server_error: "The server refused the upload", upload_network_error: "Network interrupted; press Resume to continue where it stopped", no_file_chosen: "No file chosen", device_opt: "Body camera no. (optional)", officer_opt: "Officer no. (optional)", name_parsed: "Read from the file name: ", name_unparsed: "No recording time in the file name; enter it by hand", upload_agency: "Agency code (required: this account belongs to no agency)" },
});

/** A UTC RFC 3339 time as the value of a datetime-local input (the browser's local time). */
export function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** What the station agent's naming rules read from a file name (the server applies them). */
export async function parseName(name) {
  try { return await api("/api/v1/naming/parse", { method: "POST", body: { name } }); } catch (e) { return {}; }
}

export class UploadView {
  constructor(root) { this.root = root; this.upload = null; this.stopWatch = () => {}; }

  mount() {
    // The browser's own file button speaks the browser's language; ours speaks the page's.
    this.fileName = h("span.dim#upload-file-name", t("no_file_chosen"));
    this.file = h("input.visually-hidden#upload-file", { type: "file", name: "file", accept: "video/*,audio/*,image/*,application/pdf",
      on: { change: () => { const f = this.file.files && this.file.files[0]; this.fileName.textContent = f ? f.name : t("no_file_chosen"); this.readName(); } } });
    this.caseRef = h("input#upload-case", { type: "text", name: "case", maxLength: 200 });
    this.stage = h("select#upload-stage", { name: "stage" }, h("option", { value: "" }, "—"), STAGES.map((s) => h("option", { value: s }, label("stage", s))));
    this.recorded = h("input#upload-recorded", { type: "datetime-local", name: "recorded_at", step: "1" });
    this.device = h("input#upload-device", { type: "text", name: "device_id", maxLength: 100 });
    this.officer = h("input#upload-officer", { type: "text", name: "officer_id", maxLength: 100 });
    this.parsed = h("div.hint.upload-parsed#upload-parsed", "");
    // Every item belongs to an agency: an account without one (an admin) names it.
    const sess = session();
    this.agency = sess && sess.role === "admin" ? h("input#upload-agency", { type: "text", name: "agency", maxLength: 64, required: true }) : null;
    this.bar = h("progress#upload-progress", { max: 1, value: 0 });
    this.status = h("div#upload-status.dim", "");
    this.startBtn = h("button.primary#upload-start", { on: { click: () => this.start() } }, t("start_upload"));
    this.pauseBtn = h("button#upload-pause", { disabled: true, on: { click: () => this.togglePause() } }, t("pause_upload"));
    this.recent = h("table.grid#recent-items");
    clear(this.root,
      h("div.upload-layout",
        h("section.panel",
          h("h2", t("upload_title")), h("p.hint", t("upload_hint")),
          h("div.form",
            h("div.file-row", h("label.button#upload-choose", { htmlFor: "upload-file", dataset: { action: "upload-choose" } }, t("choose_file")), this.file, this.fileName),
            h("label", t("case_ref"), this.caseRef),
            h("label", t("stage_opt"), this.stage),
            h("label", t("recorded_opt"), this.recorded), this.parsed,
            h("label", t("device_opt"), this.device),
            h("label", t("officer_opt"), this.officer),
            this.agency ? h("label", t("upload_agency"), this.agency) : null),
          h("div.row", this.startBtn, this.pauseBtn),
          this.bar, this.status),
        h("section.panel", h("h3", t("my_uploads")), this.recent)));
    this.loadRecent();
    return this;
  }

  destroy() { this.destroyed = true; this.stopWatch(); if (this.upload && this.running) this.upload.abort(); }

  // Fill recording time, camera and officer from the file name, by the station agent's rules.
  async readName() {
    const file = this.file.files && this.file.files[0];
    if (!file) return;
    const got = await parseName(file.name);
    if (this.destroyed || !this.file.files || this.file.files[0] !== file) return;
    const found = [];
    if (got.recorded_at) { this.recorded.value = toLocalInput(got.recorded_at); found.push(`${t("recorded_at")} ${fmtDate(got.recorded_at)}`); }
    if (got.device_id) { this.device.value = got.device_id; found.push(`${t("device")} ${got.device_id}`); }
    if (got.officer_id) { this.officer.value = got.officer_id; found.push(`${t("officer")} ${got.officer_id}`); }
    this.parsed.dataset.recordedAt = got.recorded_at || "";
    this.parsed.textContent = found.length ? `${t("name_parsed")}${found.join(" · ")}` : t("name_unparsed");
  }

  async loadRecent() {
    let items = [];
    try { items = (await api("/api/v1/evidence?limit=20")).items; } catch (e) { /* role may not read */ }
    if (this.destroyed) return;
    const row = (it) => h("tr", { dataset: { id: it.id, status: it.status } },
      h("td", h("a", { href: `#/evidence/${it.id}` }, it.original_filename)), h("td", fmtDate(it.received_at)),
      h("td", fmtSize(it.size)), h("td.status-cell", h("span.badge", label("item_status", it.status)), isPending(it) ? [" ", progressEl(it)] : null),
      h("td", h("code", shortHash(it.sha256))));
    const rows = new Map(items.map((it) => [it.id, row(it)]));
    clear(this.recent, h("tr", h("th", t("filename")), h("th", t("received_at")), h("th", t("size")), h("th", t("item_status")), h("th", t("sha256"))),
      [...rows.values()]);
    // Items still processing update by themselves until they are ready.
    this.stopWatch();
    this.stopWatch = watchItems(items.filter(isPending).map((i) => i.id), {
      onUpdate: (fresh) => {
        for (const it of fresh) {
          const old = rows.get(it.id);
          if (old) { const r = row(it); old.replaceWith(r); rows.set(it.id, r); }
        }
      },
    });
  }

  setStatus(text) { this.status.textContent = text; }

  async start() {
    const file = this.file.files && this.file.files[0];
    if (!file) { toast(t("choose_file"), "warn"); return; }
    this.startBtn.disabled = true;
    this.setStatus(`${t("hashing")}…`);
    let sha256;
    try {
      sha256 = await sha256File(file, (f) => { this.bar.value = f; this.setStatus(`${t("hashing")} ${(f * 100).toFixed(0)}%`); });
    } catch (e) { this.setStatus(`${t("upload_failed")}: ${e.message}`); this.startBtn.disabled = false; return; }
    const metadata = { filename: file.name, sha256 };
    if (this.caseRef.value.trim()) metadata.case = this.caseRef.value.trim();
    if (this.stage.value) metadata.stage = this.stage.value;
    if (this.recorded.value) metadata.recorded_at = new Date(this.recorded.value).toISOString();
    if (this.device.value.trim()) metadata.device_id = this.device.value.trim();
    if (this.officer.value.trim()) metadata.officer_id = this.officer.value.trim();
    if (this.agency && this.agency.value.trim()) metadata.agency = this.agency.value.trim();
    this.evidenceId = null;
    this.upload = new window.tus.Upload(file, {
      endpoint: "/api/v1/uploads/",
      chunkSize: CHUNK,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      metadata,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onBeforeRequest: (req) => { req.setHeader("Authorization", `Bearer ${token()}`); req.setHeader("Accept-Language", getLang()); },
      onAfterResponse: (_req, res) => { const id = res.getHeader("Custodian-Evidence-Id"); if (id) this.evidenceId = id; },
      onProgress: (sent, total) => { this.bar.value = total ? sent / total : 0; this.setStatus(`${t("uploading")} ${fmtSize(sent)} / ${fmtSize(total)}`); },
      onError: (err) => {
        this.running = false; this.startBtn.disabled = false; this.pauseBtn.disabled = true;
        const body = err.originalResponse ? err.originalResponse.getBody() : "";
        // The server's message is in the page's language; the upload library's own text is not,
        // so without one the page says what happened in its own words.
        let msg = ""; try { const b = JSON.parse(body); msg = b.message || ""; } catch (e) { /* none */ }
        if (!msg) msg = err.originalResponse ? `${t("upload_server_error")} (HTTP ${err.originalResponse.getStatus()})` : t("upload_network_error");
        this.setStatus(`${t("upload_failed")}: ${msg}`);
      },
      onSuccess: () => {
        this.running = false; this.startBtn.disabled = false; this.pauseBtn.disabled = true;
        this.bar.value = 1;
        clear(this.status, `${t("upload_done")} · ${sha256.slice(0, 16)}… `,
          this.evidenceId ? h("a#upload-item-link", { href: `#/evidence/${this.evidenceId}` }, t("open")) : null);
        this.loadRecent();
      },
    });
    const previous = await this.upload.findPreviousUploads().catch(() => []);
    if (previous.length) {
      this.upload.resumeFromPreviousUpload(previous[0]);
      toast(`${t("resumed_from")}${new Date(previous[0].creationTime).toLocaleString()}`);
    }
    this.running = true; this.pauseBtn.disabled = false; this.pauseBtn.textContent = t("pause_upload");
    this.upload.start();
  }

  togglePause() {
    if (!this.upload) return;
    if (this.running) { this.upload.abort(); this.running = false; this.pauseBtn.textContent = t("resume_upload"); this.setStatus(t("pause_upload")); }
    else { this.running = true; this.pauseBtn.textContent = t("pause_upload"); this.upload.start(); }
  }
}
