"""Operator commands: migrate, rebuild, reconcile, verify-audit, and the command line that runs
them with the worker and the API (``python -m services.coordination <command>``)."""
