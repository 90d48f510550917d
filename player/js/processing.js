// Processing progress: items still being processed are polled (with backoff) until they reach a
// final status; each view stops its watcher when it is destroyed.
import { api, qs } from "./api.js";
import { addStrings, t } from "./i18n.js";
import { h } from "./util.js";

export const PENDING = new Set(["received", "processing"]);
const FIRST_MS = 1000;
const MAX_MS = 15000;
const FACTOR = 1.6;

addStrings({
  "zh-CN": { proc_queued: "排队等待处理", proc_running: "正在处理", proc_failed: "处理失败", proc_retry: "处理失败，等待重试" },
  en: { proc_queued: "Waiting to be processed", proc_running: "Processing", proc_failed: "Processing failed", proc_retry: "Failed; will retry" },
});

/** Is this item still on its way to a final status? */
export function isPending(item) {
  if (!item || !PENDING.has(item.status)) return false;
  const job = item.job;
  return !job || job.state === "queued" || job.state === "running";
}

/** A small progress element for an item (status word + bar), with data-progress for tests. */
export function progressEl(item) {
  const job = item.job || null;
  const frac = job ? Math.max(0, Math.min(1, Number(job.progress) || 0)) : 0;
  let word = t("proc_queued");
  if (job && job.state === "running") word = `${t("proc_running")} ${Math.round(frac * 100)}%`;
  else if (job && job.state === "failed") word = t("proc_failed");
  else if (job && job.state === "queued" && job.attempts > 0) word = t("proc_retry");
  return h("span.proc", { dataset: { progress: frac.toFixed(3), state: job ? job.state : "queued" } },
    h("progress.proc-bar", { max: 1, value: frac }), " ", h("span.proc-word", word));
}

/**
 * Watch items until none is pending. `onUpdate(items)` gets the fresh listing rows of the
 * watched ids each poll; `onDone(item)` once per item that left the pending state.
 * Returns a stop() function. Polls with backoff (1 s, growing to 15 s), and faster again
 * while progress moves.
 */
export function watchItems(ids, { onUpdate = () => {}, onDone = () => {} } = {}) {
  let pending = new Set(ids);
  let delay = FIRST_MS;
  let timer = null;
  let stopped = false;
  let last = "";
  let counted = false;
  const count = (on) => {
    if (on === counted) return;
    counted = on;
    window.__custodianPolls = (window.__custodianPolls || 0) + (on ? 1 : -1);
  };
  const tick = async () => {
    timer = null;
    if (stopped || !pending.size) return;
    let items = [];
    try {
      items = (await api(`/api/v1/evidence${qs({ ids: [...pending].join(","), limit: 200 })}`)).items;
    } catch (e) { items = null; }
    if (stopped) return;
    if (items) {
      onUpdate(items);
      const sig = JSON.stringify(items.map((i) => [i.id, i.status, i.job && i.job.progress]));
      delay = sig !== last ? FIRST_MS : Math.min(MAX_MS, delay * FACTOR);
      last = sig;
      for (const it of items) if (!isPending(it)) { pending.delete(it.id); onDone(it); }
      const seen = new Set(items.map((i) => i.id));
      pending = new Set([...pending].filter((id) => seen.has(id)));
    } else {
      delay = Math.min(MAX_MS, delay * FACTOR);
    }
    if (pending.size && !stopped) timer = setTimeout(tick, delay);
    else count(false);
  };
  if (pending.size) { count(true); timer = setTimeout(tick, delay); }
  // window.__custodianPolls counts the watchers still polling (the tests check views stop theirs).
  const stop = () => { stopped = true; if (timer) clearTimeout(timer); timer = null; count(false); };
  stop.delay = () => delay;
  return stop;
}
