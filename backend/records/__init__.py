"""Resident cadres' daily work (驻村帮扶): on-post check-ins and leave, daily records, household visits,
the problem ledger. Their photos live in backend/photos."""
