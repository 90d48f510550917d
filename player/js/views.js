// Feature modules register their views and navigation links here instead of editing app.js's render().
//   registerView("registry", async (root, parts, params) => viewObjectWithDestroyOrNull)
//     -- called for #/registry/...; parts[0] === "registry"
//   registerNav({ href: "#/registry", key: "registry", label: "nav_registry", roles: ["admin"] })
export const VIEWS = new Map();
export const NAV = [];
export function registerView(first, fn) { VIEWS.set(first, fn); }
export function registerNav(entry) { NAV.push(entry); }
let rerenderFn = () => {};
export function setRerender(fn) { rerenderFn = fn; }
/** Render the current route again (after a language switch or a change of data). */
export function rerender() { return rerenderFn(); }
