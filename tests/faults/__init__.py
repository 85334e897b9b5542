"""The fault suite (``make faults``): the real services as separate processes, realistic traffic
with poison on every consumed topic, one fault per run, and the count of what was lost or
duplicated. Run it with ``python -m tests.faults``; see docs/reliability.md.

No module here is named ``test_*``: pytest does not collect the suite, it is run on its own.
"""
