"""Accounts, roles, API tokens and the one helper that derives a caller's access scope."""
