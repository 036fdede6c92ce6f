"""The audit log: who changed what in the county's lists, when, from what to what."""
