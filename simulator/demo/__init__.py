"""README command 1 (``make demo``): every service as its own process, driven by the
simulator, with a reconciliation and a summary at the end."""
