"""German pages of the coordination API: the coordinator's case page and the committee
dashboard, rendered on the server from the same reads as the API (no JavaScript)."""
