"""``make load``: an open-loop load generator for the whole bus (issue 19).

Realistic case stories at fixed offered rates through the partners' intake topics, with intake's
Kafka door, the coordination worker and notifications running as their own processes; measures
submission → recipient-topic latency from the scheduled send time, and each service's consumer
lag, step by step.
"""
