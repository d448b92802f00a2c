"""Identity: the vault, tipsters, staff inputs, passwords, roles, erasure."""
