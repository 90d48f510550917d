// Custody history (留痕记录) of an item or a case: its ledger entries in order, opened from the
// item page and the case page by a data-action="custody-open" control; each entry can be checked
// against the signed tree head (its inclusion proof is verified here, in the browser).
import { api, qs } from "./api.js";
import { addStrings, t } from "./i18n.js";
import { Sha256 } from "./sha256.js";
import { clear, fmtDate, h, shortHash, toast } from "./util.js";

addStrings({
  "zh-CN": {
    custody: "留痕记录", custody_of_item: "音像记录的留痕记录", custody_of_case: "案件的留痕记录",
    custody_seq: "序号", custody_time: "时间", custody_actor: "操作人", custody_type: "操作",
    custody_what: "内容", custody_proof: "核验", custody_check: "核验", custody_none: "暂无留痕记录",
    custody_more: "加载更多", custody_close: "关闭", custody_ok: "已核验：该条记录包含在签名树头中",
    custody_bad: "核验未通过", custody_head: "树头", custody_hint: "每条记录都写入不可篡改的哈希链；点“核验”在浏览器中验算其包含证明。",
    custody_entries: "条",
  },
  en: {
    custody: "Custody history", custody_of_item: "Custody history of the item", custody_of_case: "Custody history of the case",
    custody_seq: "No.", custody_time: "Time", custody_actor: "By", custody_type: "Action",
    custody_what: "Details", custody_proof: "Proof", custody_check: "Check", custody_none: "No entries yet",
    custody_more: "Load more", custody_close: "Close", custody_ok: "Checked: the entry is in the signed tree head",
    custody_bad: "Check failed", custody_head: "tree head", custody_hint: "Every entry is in a hash-chained, append-only ledger; “Check” verifies its inclusion proof in the browser.",
    custody_entries: "entries",
  },
});

const enc = new TextEncoder();
const hexToBytes = (hex) => Uint8Array.from(hex.match(/../g) || [], (b) => parseInt(b, 16));
function sha(...parts) {
  const s = new Sha256();
  for (const p of parts) s.update(p);
  return s.hex();
}
const leafHash = (bytes) => sha(Uint8Array.of(0), bytes);
const nodeHash = (l, r) => sha(Uint8Array.of(1), hexToBytes(l), hexToBytes(r));

/** RFC 9162 §2.1.3.2: does `proof` take leaf `index` of a `size`-leaf tree to `root`? */
export function verifyInclusion(leaf, index, size, proof, root) {
  if (!(index >= 0 && index < size)) return false;
  let fn = index; let sn = size - 1; let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && r === root;
}

/** Check one proof answer: the entry bytes hash to the leaf, and the path leads to the head's root. */
export function checkProof(p, seq) {
  const leaf = leafHash(enc.encode(p.entry_canonical));
  let entry = null;
  try { entry = JSON.parse(p.entry_canonical); } catch (e) { entry = null; }
  const sameEntry = entry ? Number(entry.seq) === Number(seq) : true;
  return leaf === p.leaf_hash && sameEntry && verifyInclusion(leaf, p.leaf_index, p.tree_size, p.proof, p.tree_head.root);
}

const base = (kind, id) => (kind === "case" ? `/api/v1/cases/${encodeURIComponent(id)}` : `/api/v1/evidence/${encodeURIComponent(id)}`);

/** The control that opens the custody history of an item ("evidence") or a case. */
export function custodyButton(kind, id, container, small = false) {
  return h(`button.custody-open${small ? ".small" : ""}`, {
    type: "button", dataset: { action: "custody-open", kind, id },
    on: { click: (e) => openCustody(kind, id, container || e.target.closest(".view") || document.body) },
  }, t("custody"));
}

/** Open the panel over the current view (it goes away with the view). */
export async function openCustody(kind, id, container) {
  const old = document.getElementById("custody-panel");
  if (old) old.remove();
  const body = h("tbody");
  const more = h("button.small.hidden#custody-more", { type: "button" }, t("custody_more"));
  const count = h("span.dim#custody-count", "");
  const panel = h("aside.custody-panel#custody-panel", { dataset: { kind, id } },
    h("div.custody-head",
      h("h3", kind === "case" ? t("custody_of_case") : t("custody_of_item")), count,
      h("span.spacer"),
      h("button.link#custody-close", { type: "button", dataset: { action: "custody-close" }, on: { click: () => panel.remove() } }, `✕ ${t("custody_close")}`)),
    h("p.hint", t("custody_hint")),
    h("div.custody-scroll",
      h("table.grid.custody-table#custody-table",
        h("thead", h("tr", [t("custody_seq"), t("custody_time"), t("custody_actor"), t("custody_type"), t("custody_what"), t("custody_proof")].map((x) => h("th", x)))),
        body)),
    h("div.pager", more));
  (container || document.body).append(panel);
  let shown = 0;
  const load = async (after) => {
    more.classList.add("hidden");
    let page;
    try { page = await api(`${base(kind, id)}/custody${qs({ after, limit: 200 })}`); } catch (e) {
      clear(body, h("tr", h("td.error", { colSpan: 6 }, e.message))); return;
    }
    if (!page.items.length && !after) clear(body, h("tr", h("td.empty", { colSpan: 6 }, t("custody_none"))));
    for (const en of page.items) body.append(entryRow(kind, id, en));
    shown += page.items.length;
    count.textContent = `${shown} ${t("custody_entries")}`;
    if (page.next) {
      more.classList.remove("hidden");
      more.onclick = () => load(page.next);
    }
    panel.dataset.loaded = "1";
  };
  await load(0);
  return panel;
}

function entryRow(kind, id, en) {
  const result = h("span.proof-result");
  const btn = h("button.small.proof-check", {
    type: "button", dataset: { action: "custody-proof", seq: String(en.seq) },
    on: {
      click: async () => {
        btn.disabled = true;
        try {
          const p = await api(en.proof || `${base(kind, id)}/custody/${en.seq}/proof`);
          const ok = checkProof(p, en.seq);
          result.className = `proof-result ${ok ? "ok" : "error"}`;
          result.dataset.verified = ok ? "1" : "0";
          result.textContent = ok ? "✓" : `✗ ${t("custody_bad")}`;
          result.title = ok ? `${t("custody_ok")} · ${t("custody_head")} ${p.tree_size} · ${shortHash(p.tree_head.root)}` : t("custody_bad");
        } catch (e) { toast(e.message, "error"); } finally { btn.disabled = false; }
      },
    },
  }, t("custody_check"));
  return h(`tr.custody-entry.type-${String(en.type).replace(/[^a-z_]/g, "")}`, { dataset: { seq: String(en.seq), type: en.type } },
    h("td.seq", `#${en.seq}`),
    h("td.nowrap", fmtDate(en.time)),
    h("td", en.actor_name || en.actor, en.actor_username && en.actor_username !== en.actor_name ? h("span.dim", ` ${en.actor_username}`) : null),
    h("td", h("span.badge", en.type_label || en.type)),
    // On a case's history, entries about an item name the item.
    h("td.custody-summary", kind === "case" && en.subject_name ? h("b", `${en.subject_name} `) : null, en.summary || ""),
    h("td.nowrap", btn, " ", result));
}
