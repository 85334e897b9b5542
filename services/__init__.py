"""The three services of the IIZ bus (intake, coordination, notifications) and their shared glue."""
