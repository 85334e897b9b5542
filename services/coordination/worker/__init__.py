"""The worker: consumes the case events and delivery outcomes, writes each batch's effects once,
and runs the outbox relay and the deadline scheduler beside them."""
