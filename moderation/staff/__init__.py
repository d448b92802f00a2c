"""Staff: signing in, invitations, recovery codes, accounts, Telegram links."""
