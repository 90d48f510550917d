// One import per feature module; each registers its views, navigation and strings on import.
import "./casework.js";
