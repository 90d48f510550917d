"""The catalogue: engine and sessions, typed models, migrations."""
