// Browser upload (tus 1.0 via tus-js-client): SHA-256 first, then resumable upload with progress.
import { api, session, token } from "./api.js";
import { STAGES, addStrings, label, t } from "./i18n.js";
import { sha256File } from "./sha256.js";
import { clear, fmtDate, fmtSize, h, shortHash, toast } from "./util.js";

const CHUNK = 16 * 1024 * 1024;

addStrings({
  "zh-CN": { upload_agency: "所属机构代码（本账号不属于任何机构，必填）" },
  en: { upload_agency: "Agency code (required: this account belongs to no agency)" },
});

export class UploadView {
  constructor(root) { this.root = root; this.upload = null; }

  mount() {
    this.file = h("input#upload-file", { type: "file", accept: "video/*,audio/*,image/*,application/pdf" });
    this.caseRef = h("input#upload-case", { type: "text", maxLength: 200 });
    this.stage = h("select#upload-stage", h("option", { value: "" }, "—"), STAGES.map((s) => h("option", { value: s }, label("stage", s))));
    this.recorded = h("input#upload-recorded", { type: "datetime-local", step: "1" });
    // Every item belongs to an agency: an account without one (an admin) names it.
    const s = session();
    this.agency = s && s.role === "admin" ? h("input#upload-agency", { type: "text", name: "agency", maxLength: 64, required: true }) : null;
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
            h("label", t("choose_file"), this.file),
            h("label", t("case_ref"), this.caseRef),
            h("label", t("stage_opt"), this.stage),
            h("label", t("recorded_opt"), this.recorded),
            this.agency ? h("label", t("upload_agency"), this.agency) : null),
          h("div.row", this.startBtn, this.pauseBtn),
          this.bar, this.status),
        h("section.panel", h("h3", t("my_uploads")), this.recent)));
    this.loadRecent();
    return this;
  }

  destroy() { if (this.upload && this.running) this.upload.abort(); }

  async loadRecent() {
    let items = [];
    try { items = (await api("/api/v1/evidence?limit=20")).items; } catch (e) { /* role may not read */ }
    clear(this.recent, h("tr", h("th", t("filename")), h("th", t("received_at")), h("th", t("size")), h("th", t("item_status")), h("th", t("sha256"))),
      items.map((it) => h("tr", { dataset: { id: it.id } },
        h("td", h("a", { href: `#/evidence/${it.id}` }, it.original_filename)), h("td", fmtDate(it.received_at)),
        h("td", fmtSize(it.size)), h("td", label("item_status", it.status)), h("td", h("code", shortHash(it.sha256))))));
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
    if (this.agency && this.agency.value.trim()) metadata.agency = this.agency.value.trim();
    this.evidenceId = null;
    this.upload = new window.tus.Upload(file, {
      endpoint: "/api/v1/uploads/",
      chunkSize: CHUNK,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      metadata,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onBeforeRequest: (req) => { req.setHeader("Authorization", `Bearer ${token()}`); },
      onAfterResponse: (_req, res) => { const id = res.getHeader("Custodian-Evidence-Id"); if (id) this.evidenceId = id; },
      onProgress: (sent, total) => { this.bar.value = total ? sent / total : 0; this.setStatus(`${t("uploading")} ${fmtSize(sent)} / ${fmtSize(total)}`); },
      onError: (err) => {
        this.running = false; this.startBtn.disabled = false; this.pauseBtn.disabled = true;
        const body = err.originalResponse ? err.originalResponse.getBody() : "";
        let msg = err.message; try { msg = JSON.parse(body).error || msg; } catch (e) { /* keep */ }
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
