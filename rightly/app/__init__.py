"""The composition root: the one place that wires settings, database, connectors, secrets, the
vendor HTTP client, the call budget and the workers, and builds the faces (CLI, API, web) on them.
Nothing below imports it."""
