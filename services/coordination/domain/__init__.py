"""Coordination's pure domain: consent policy, the person's case file, alerts. No I/O, no clock."""
