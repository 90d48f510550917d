// Account administration (admins): users (create, disable/enable, reset password, role and
// agency) and agencies. Every change is an API call the server ledgers; a change of password,
// role, agency or active revokes that user's tokens at once.
import { api } from "./api.js";
import { addStrings, addVocab, getLang, label, t, vocab } from "./i18n.js";
import { clear, fmtDate, h, toast } from "./util.js";
import { registerNav, registerView, rerender } from "./views.js";

addStrings({
  "zh-CN": {
    nav_admin: "账号管理",
    admin_users: "用户",
    admin_agencies: "执法机构",
    admin_new_user: "新建用户",
    admin_new_agency: "新建机构",
    admin_username: "登录名",
    admin_display_name: "姓名",
    admin_password: "密码",
    admin_new_password: "新密码",
    admin_role: "角色",
    admin_agency: "所属机构",
    admin_no_agency: "（无）",
    admin_status: "状态",
    admin_active: "启用",
    admin_disabled: "已停用",
    admin_created: "创建时间",
    admin_actions: "操作",
    admin_create: "创建",
    admin_save: "保存角色/机构",
    admin_disable: "停用",
    admin_enable: "启用",
    admin_reset_password: "重置密码",
    admin_agency_code: "机构代码",
    admin_agency_name: "机构名称",
    admin_saved: "已保存；该用户原有登录凭证已失效",
    admin_created_ok: "已创建",
    admin_password_hint: "至少 12 个字符，不能是常见密码，不能包含登录名",
    admin_confirm_disable: "停用后该用户立即退出登录，确定停用 {name}？",
    admin_you: "（本人）",
    admin_err_weak_password: "密码不符合要求：至少 12 个字符，不能是常见密码，不能包含登录名",
    admin_err_last_admin: "这是最后一个启用的管理员，请先设置另一位管理员",
    admin_err_conflict: "已存在同名的用户或机构",
    admin_err_agency_required: "该角色必须属于一个执法机构",
    admin_err_not_found: "找不到该用户或机构",
    admin_err_bad_field: "填写的内容不正确",
    admin_err_forbidden: "无权执行此操作",
  },
  en: {
    nav_admin: "Accounts",
    admin_users: "Users",
    admin_agencies: "Agencies",
    admin_new_user: "New user",
    admin_new_agency: "New agency",
    admin_username: "Login name",
    admin_display_name: "Name",
    admin_password: "Password",
    admin_new_password: "New password",
    admin_role: "Role",
    admin_agency: "Agency",
    admin_no_agency: "(none)",
    admin_status: "Status",
    admin_active: "Active",
    admin_disabled: "Disabled",
    admin_created: "Created",
    admin_actions: "Actions",
    admin_create: "Create",
    admin_save: "Save role/agency",
    admin_disable: "Disable",
    admin_enable: "Enable",
    admin_reset_password: "Reset password",
    admin_agency_code: "Agency code",
    admin_agency_name: "Agency name",
    admin_saved: "Saved; the user's existing sessions no longer work",
    admin_created_ok: "Created",
    admin_password_hint: "At least 12 characters, not a common password, not containing the login name",
    admin_confirm_disable: "Disabling logs {name} out at once. Disable?",
    admin_you: "(you)",
  },
});

addVocab({
  role: {
    station: ["采集站", "Station"], officer: ["执法人员", "Officer"], reviewer: ["审核人员", "Reviewer"],
    legal: ["法制审核", "Legal review"], supervisor: ["监督（司法局）", "Supervisor"],
    auditor: ["审计", "Auditor"], admin: ["管理员", "Administrator"],
  },
});

const ROLES = ["station", "officer", "reviewer", "legal", "supervisor", "auditor", "admin"];

function roleSelect(value) {
  const roles = vocab("role").length ? vocab("role") : ROLES;
  return h("select", { name: "role" }, roles.map((r) => h("option", { value: r, selected: r === value }, label("role", r))));
}

function agencySelect(agencies, value) {
  return h("select", { name: "agency" },
    h("option", { value: "", selected: !value }, t("admin_no_agency")),
    agencies.map((a) => h("option", { value: a.code, selected: a.code === value }, `${a.code} · ${a.name}`)));
}

async function call(path, method, body, okText = t("admin_saved")) {
  try {
    await api(path, { method, body });
    toast(okText, "ok");
    rerender();
    return true;
  } catch (e) {
    // The server's own sentence is English; in Chinese show ours for the codes we know.
    const key = `admin_err_${e.code}`;
    toast(getLang() === "en" || t(key) === key ? e.message : t(key), "error");
    return false;
  }
}

function userRow(u, agencies, me) {
  const role = roleSelect(u.role);
  const agency = agencySelect(agencies, u.agency);
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", placeholder: t("admin_new_password"), title: t("admin_password_hint") });
  const patch = (body) => call(`/api/v1/users/${u.id}`, "PATCH", body);
  const toggle = u.active
    ? h("button.danger", { dataset: { action: "user-disable" }, on: { click: () => { if (confirm(t("admin_confirm_disable").replace("{name}", u.username))) patch({ active: false }); } } }, t("admin_disable"))
    : h("button", { dataset: { action: "user-enable" }, on: { click: () => patch({ active: true }) } }, t("admin_enable"));
  return h(`tr.user-row${u.active ? "" : ".inactive"}`, { dataset: { id: String(u.id), username: u.username } },
    h("td", h("b", u.username), u.username === me ? h("span.dim", ` ${t("admin_you")}`) : null),
    h("td", u.display_name || ""),
    h("td", role),
    h("td", agency),
    h("td", h(`span.badge${u.active ? "" : ".unplayable"}`, u.active ? t("admin_active") : t("admin_disabled"))),
    h("td.dim", fmtDate(u.created_at)),
    h("td.actions",
      h("button", { dataset: { action: "user-save" }, on: { click: () => patch({ role: role.value, agency: agency.value || null }) } }, t("admin_save")),
      " ", toggle, " ",
      h("span.nowrap", password, " ",
        h("button", { dataset: { action: "user-password" }, on: { click: () => { if (password.value) patch({ password: password.value }); } } }, t("admin_reset_password")))));
}

function newUserForm(agencies) {
  const f = {
    username: h("input", { name: "username", type: "text", required: true, autocomplete: "off" }),
    display_name: h("input", { name: "display_name", type: "text" }),
    password: h("input", { name: "password", type: "password", autocomplete: "new-password", title: t("admin_password_hint") }),
    role: roleSelect("officer"),
    agency: agencySelect(agencies, agencies.length ? agencies[0].code : ""),
  };
  const form = h("form.admin-form#user-new", {
    on: {
      submit: async (e) => {
        e.preventDefault();
        await call("/api/v1/users", "POST", {
          username: f.username.value.trim(), display_name: f.display_name.value.trim(), password: f.password.value,
          role: f.role.value, agency: f.agency.value || undefined,
        }, t("admin_created_ok"));
      },
    },
  },
  h("label", t("admin_username"), f.username), h("label", t("admin_display_name"), f.display_name),
  h("label", t("admin_password"), f.password), h("label", t("admin_role"), f.role), h("label", t("admin_agency"), f.agency),
  h("button.primary", { type: "submit", dataset: { action: "user-create" } }, t("admin_create")),
  h("p.dim.hint", t("admin_password_hint")));
  return form;
}

function newAgencyForm() {
  const code = h("input", { name: "code", type: "text", required: true, autocomplete: "off" });
  const name = h("input", { name: "name", type: "text" });
  return h("form.admin-form#agency-new", {
    on: {
      submit: async (e) => {
        e.preventDefault();
        await call("/api/v1/agencies", "POST", { code: code.value.trim(), name: name.value.trim() || undefined }, t("admin_created_ok"));
      },
    },
  }, h("label", t("admin_agency_code"), code), h("label", t("admin_agency_name"), name),
  h("button.primary", { type: "submit", dataset: { action: "agency-create" } }, t("admin_create")));
}

async function viewAdmin(root) {
  const [users, agencies] = await Promise.all([api("/api/v1/users"), api("/api/v1/agencies")]);
  const me = (JSON.parse(sessionStorage.getItem("custodian.session") || "{}") || {}).username;
  clear(root,
    h("h2", t("nav_admin")),
    h("section.panel#admin-users",
      h("h3", t("admin_users")),
      h("table.grid#users-table",
        h("tr", h("th", t("admin_username")), h("th", t("admin_display_name")), h("th", t("admin_role")),
          h("th", t("admin_agency")), h("th", t("admin_status")), h("th", t("admin_created")), h("th", t("admin_actions"))),
        users.items.map((u) => userRow(u, agencies.items, me))),
      h("h4", t("admin_new_user")), newUserForm(agencies.items)),
    h("section.panel#admin-agencies",
      h("h3", t("admin_agencies")),
      h("table.grid#agencies-table",
        h("tr", h("th", t("admin_agency_code")), h("th", t("admin_agency_name")), h("th", t("admin_created"))),
        agencies.items.map((a) => h("tr.agency-row", { dataset: { code: a.code } }, h("td", h("b", a.code)), h("td", a.name), h("td.dim", fmtDate(a.created_at))))),
      h("h4", t("admin_new_agency")), newAgencyForm()));
  return null;
}

registerView("admin", (root) => viewAdmin(root));
registerNav({ href: "#/admin", key: "admin", label: "nav_admin", roles: ["admin"] });
