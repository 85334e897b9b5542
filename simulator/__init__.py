"""The partners, simulated: a synthetic Basel-Landschaft population that submits through the
real doors and reads its own delivery topics, a webhook endpoint and a mailbox. Development and
demonstration code, not a service: it is not part of the wheel."""
