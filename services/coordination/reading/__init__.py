"""Reading a case, for every door (the JSON API and the German pages): access check, refold,
decisions and the audit row of each read."""
