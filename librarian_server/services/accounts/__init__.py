"""Accounts: users, passwords (scrypt), bearer tokens, authentication and login throttling."""
