// The reviewer UI: a hash router over a few views. Every byte comes from /api/v1.
import { clearSession, login, session } from "./api.js";
import { getLang, label, setLang, t } from "./i18n.js";
import { Multicam } from "./multicam.js";
import { Player } from "./player.js";
import { UploadView } from "./upload.js";
import { viewEvidenceList, withItemExtras } from "./evidence.js";
import { NAV, VIEWS, setRerender } from "./views.js";
import "./features.js";
import { clear, h } from "./util.js";

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

// The case list, case page and approvals live in casework.js (registered as views).

setRerender(render);
window.addEventListener("hashchange", render);
render();
