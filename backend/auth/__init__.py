"""Accounts, roles, scope over the region tree, API tokens, the WeChat gateway, admin passwords."""
