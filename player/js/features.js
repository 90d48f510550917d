// One import per feature module; each registers its views, navigation and strings on import.
import "./registry.js";
import "./supervision.js";
import "./evidence.js"; // evidence-ui: evidence list, processing, custody history (also imported by app.js)
import "./admin.js";
import "./casework.js";
