"""Intake's HTTP door: ``POST /v1/events`` (``events``), the web form (``form``), their limits
and refusals, and the app that serves them (``app``; run with ``python -m services.intake http``).
"""
