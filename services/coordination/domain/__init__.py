"""Coordination's pure domain: the person's case file and how events fold into it, the consent
and legal-basis policy, alerts and deadlines, the working-day calendar, the case summary.
No I/O, no settings, no clock."""
