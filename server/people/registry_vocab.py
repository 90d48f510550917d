"""The registry's fixed vocabularies, in a module of their own so the command line can offer
them as choices without importing the catalogue models (and SQLAlchemy) at start."""

OFFICER_STATUSES = ("active", "left")
DEVICE_KINDS = ("body_camera", "dashcam", "handheld", "recorder", "cctv")
DEVICE_STATUSES = ("in_service", "repair", "retired")
