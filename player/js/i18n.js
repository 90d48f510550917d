// Interface strings: zh-CN (default) and English. Identifiers stay in code; labels come from here.
const STRINGS = {
  "zh-CN": {
    app_title: "行政执法全过程记录管理系统",
    nav_cases: "案件", nav_evidence: "音像记录", nav_upload: "上传", logout: "退出",
    login_title: "登录", username: "用户名", password: "密码", login: "登录",
    login_failed: "用户名或密码错误", loading: "加载中…", error: "出错了",
    search: "搜索", search_placeholder: "案号、标题、当事人、执法人员",
    filter_type: "执法类型", filter_status: "案件状态", filter_stage: "执法阶段",
    filter_from: "起始日期", filter_to: "截止日期", all: "全部", apply: "查询", reset: "重置",
    prev_page: "上一页", next_page: "下一页", no_cases: "没有符合条件的案件",
    case_number: "案号", case_title: "标题", party: "当事人", officers: "执法人员",
    opened_at: "立案/启动时间", current_stage: "当前阶段", procedure: "程序", status: "状态",
    stages: "执法阶段", records: "文书", footage: "音像记录", findings: "问题提示",
    no_findings: "未发现问题", no_records: "暂无文书", no_footage: "无音像记录",
    unlinked: "未关联案件的音像记录", proposals: "自动关联建议", link_to: "关联到", link: "关联",
    linked_ok: "已关联", multicam: "多机位同步查看", open: "打开", duration: "时长",
    recorded_at: "录制时间", received_at: "接收时间", device: "执法记录仪编号", officer: "执法人员",
    filename: "文件名", sha256: "SHA-256", size: "大小", kind: "类型",
    play: "播放", pause: "暂停", frame_back: "上一帧", frame_fwd: "下一帧",
    rate: "倍速", media_time: "媒体时间", wall_time: "录制时刻",
    clip_in: "片段起点", clip_out: "片段终点", clip_name: "片段名称", add_to_basket: "加入待导出片段",
    basket: "待导出片段", basket_empty: "暂无待导出片段", basket_needs_case: "从案件中打开录像后可添加待导出片段",
    bookmarks: "书签", bookmark: "书签", add_bookmark: "添加书签", note: "备注",
    no_bookmarks: "暂无书签", saved: "已保存", jump: "跳转",
    shortcuts: "快捷键：空格 播放/暂停 · J/K/L 后退/暂停/快进 · ←/→ 逐帧（暂停时）或 ±5 秒 · [ ] 片段起点/终点 · B 书签",
    damaged_title: "录像部分损坏", unplayable_title: "录像无法播放",
    recovered: "可播放部分", original_duration: "原始时长", reason: "原因",
    not_processed: "该音像记录尚未生成播放版本", process_now: "生成播放版本", processing: "处理中",
    no_video: "该音像记录不是录像", back: "返回", back_to_case: "返回案件",
    mc_title: "多机位同步", mc_no_footage: "此刻无录像", mc_none: "该阶段没有录制时间重叠的录像",
    mc_drift: "偏差", mc_timeline: "统一时间轴",
    upload_title: "上传音像记录", upload_hint: "用于未经采集站导入的录像（如手机视频）。上传前在浏览器中计算 SHA-256，服务器逐字节核对。",
    choose_file: "选择文件", start_upload: "开始上传", pause_upload: "暂停", resume_upload: "继续",
    hashing: "正在计算 SHA-256", uploading: "上传中", upload_done: "上传完成，服务器已核对哈希",
    upload_failed: "上传失败", resumed_from: "从上次中断处继续：", my_uploads: "最近的音像记录",
    case_ref: "案号（可选）", stage_opt: "执法阶段（可选）", recorded_opt: "录制时间（可选）",
    evidence_list: "音像记录", no_items: "暂无音像记录", lang_switch: "English",
    item_status: "处理状态", view_ledger: "已留痕", compliance_ok: "符合要求",
    severity_error: "须整改", severity_warning: "建议整改", severity_info: "提示",
    frame: "帧", seconds: "秒",
  },
  en: {
    app_title: "Administrative Enforcement Whole-Process Recording",
    nav_cases: "Cases", nav_evidence: "Recordings", nav_upload: "Upload", logout: "Log out",
    login_title: "Log in", username: "Username", password: "Password", login: "Log in",
    login_failed: "Wrong username or password", loading: "Loading…", error: "Error",
    search: "Search", search_placeholder: "number, title, party, officer",
    filter_type: "Enforcement type", filter_status: "Case status", filter_stage: "Stage",
    filter_from: "From", filter_to: "To", all: "All", apply: "Apply", reset: "Reset",
    prev_page: "Previous", next_page: "Next", no_cases: "No matching cases",
    case_number: "Number", case_title: "Title", party: "Party", officers: "Officers",
    opened_at: "Opened", current_stage: "Current stage", procedure: "Procedure", status: "Status",
    stages: "Stages", records: "Documents", footage: "Footage", findings: "Issues",
    no_findings: "No findings", no_records: "No documents", no_footage: "No footage",
    unlinked: "Recordings linked to no case", proposals: "Auto-link proposals", link_to: "Link to", link: "Link",
    linked_ok: "Linked", multicam: "Multi-camera view", open: "Open", duration: "Duration",
    recorded_at: "Recorded", received_at: "Received", device: "Body camera no.", officer: "Officer",
    filename: "File name", sha256: "SHA-256", size: "Size", kind: "Kind",
    play: "Play", pause: "Pause", frame_back: "Previous frame", frame_fwd: "Next frame",
    rate: "Rate", media_time: "Media time", wall_time: "Wall clock",
    clip_in: "Clip start", clip_out: "Clip end", clip_name: "Clip name", add_to_basket: "Add to clips for export",
    basket: "Clips for export", basket_empty: "No clips for export yet", basket_needs_case: "Open the item from a case to add clips for export",
    bookmarks: "Bookmarks", bookmark: "Bookmark", add_bookmark: "Add bookmark", note: "Note",
    no_bookmarks: "No bookmarks yet", saved: "Saved", jump: "Jump",
    shortcuts: "Keys: Space play/pause · J/K/L back/pause/forward · ←/→ frame step (paused) or ±5 s · [ ] clip start/end · B bookmark",
    damaged_title: "Recording partly damaged", unplayable_title: "Recording cannot be played",
    recovered: "Playable part", original_duration: "Original duration", reason: "Reason",
    not_processed: "No playback rendition yet", process_now: "Make rendition", processing: "Processing",
    no_video: "This item is not a video", back: "Back", back_to_case: "Back to case",
    mc_title: "Multi-camera sync", mc_no_footage: "No footage at this moment", mc_none: "No recordings of this stage overlap in time",
    mc_drift: "drift", mc_timeline: "Common timeline",
    upload_title: "Upload a recording", upload_hint: "For footage that did not come through a dock (e.g. phone video). The browser computes the SHA-256 first; the server checks every byte.",
    choose_file: "Choose file", start_upload: "Upload", pause_upload: "Pause", resume_upload: "Resume",
    hashing: "Computing SHA-256", uploading: "Uploading", upload_done: "Uploaded; the server verified the hash",
    upload_failed: "Upload failed", resumed_from: "Resuming from ", my_uploads: "Recent recordings",
    case_ref: "Case number (optional)", stage_opt: "Stage (optional)", recorded_opt: "Recorded at (optional)",
    evidence_list: "Recordings", no_items: "No recordings yet", lang_switch: "中文",
    item_status: "Processing status", view_ledger: "Logged in the custody ledger", compliance_ok: "Compliant",
    severity_error: "Must fix", severity_warning: "Should fix", severity_info: "Note",
    frame: "frame", seconds: "s",
  },
};

// Vocabulary of RULES.md: identifier -> label per language.
const VOCAB = {
  stage: {
    initiation: ["程序启动", "Initiation"], investigation: ["调查取证", "Investigation"],
    decision: ["审查决定", "Review & decision"], service_execution: ["送达执行", "Service & execution"],
    archiving: ["归档管理", "Archiving"],
  },
  enforcement_type: {
    penalty: ["行政处罚", "Penalty"], coercion: ["行政强制", "Coercion"], levy: ["行政征收征用", "Levy"],
    inspection: ["行政检查", "Inspection"], licensing: ["行政许可", "Licensing"],
    charging: ["行政收费", "Charging"], other: ["其他", "Other"],
  },
  procedure: { general: ["一般程序", "General"], simple: ["简易程序", "Simple"] },
  record_kind: {
    document: ["文字记录", "Document"], photo: ["拍照", "Photo"], audio: ["录音", "Audio"],
    video: ["录像", "Video"], cctv: ["视频监控", "CCTV"],
  },
  item_status: {
    received: ["已接收", "Received"], processing: ["处理中", "Processing"], ready: ["可播放", "Ready"],
    damaged: ["部分损坏", "Damaged"], unplayable: ["无法播放", "Unplayable"], stored: ["已存储", "Stored"],
  },
  case_status: {
    open: ["办理中", "Open"], closed: ["已结案", "Closed"], archived: ["已归档", "Archived"],
    draft: ["草稿", "Draft"],
  },
  role: {
    station: ["采集工作站", "Station"], officer: ["执法人员", "Officer"], reviewer: ["审核人员", "Reviewer"],
    legal: ["法制审核人员", "Legal reviewer"], supervisor: ["监督人员", "Supervisor"], auditor: ["审计人员", "Auditor"],
    admin: ["系统管理员", "Administrator"],
  },
  kind: { video: ["视频", "Video"], audio: ["音频", "Audio"], photo: ["照片", "Photo"], document: ["文档", "Document"], other: ["其他", "Other"] },
};
export const STAGES = ["initiation", "investigation", "decision", "service_execution", "archiving"];
export const ENFORCEMENT_TYPES = Object.keys(VOCAB.enforcement_type);

let lang = localStorage.getItem("custodian.lang") || "zh-CN";
if (!STRINGS[lang]) lang = "zh-CN";

export function getLang() { return lang; }
export function setLang(value) {
  lang = STRINGS[value] ? value : "zh-CN";
  localStorage.setItem("custodian.lang", lang);
  document.documentElement.lang = lang;
}
export function t(key) { return (STRINGS[lang] && STRINGS[lang][key]) || STRINGS["zh-CN"][key] || key; }
export function label(kind, id) {
  const entry = VOCAB[kind] && VOCAB[kind][id];
  if (!entry) return id == null ? "" : String(id);
  return lang === "en" ? entry[1] : entry[0];
}
export function vocab(kind) { return Object.keys(VOCAB[kind] || {}); }
// Feature modules bring their own strings and vocabularies, so each feature's labels live beside it.
export function addStrings(dict) {
  for (const [lng, entries] of Object.entries(dict)) Object.assign(STRINGS[lng] || (STRINGS[lng] = {}), entries);
}
export function addVocab(dict) {
  for (const [kind, entries] of Object.entries(dict)) Object.assign(VOCAB[kind] || (VOCAB[kind] = {}), entries);
}
document.documentElement.lang = lang;
