"""Resident cadres' work: check-ins, daily records, visits, problems, and the photos that evidence them."""
