"""Notifications to a household's inbox (and, when delivered, a WeChat subscribe message)."""
