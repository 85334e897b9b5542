"""The IIZ bus contract: event models, the CloudEvents codec, AHV numbers, registries, topics.

Data only: no I/O beyond reading the packaged registry files, no settings, no clock.
"""
