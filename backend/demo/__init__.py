"""The demo county 秦岭县 (`flask seed-demo`): one seeder module per domain, above the domains.

Seeding goes through every domain's services, so this package imports them all; no domain imports it.
"""
