"""Resident cadres' daily work (驻村帮扶): on-post check-ins and leave, daily records, household visits,
the problem ledger, and the photos that evidence them (photos.py; cadre work reaches them through evidence.py)."""
