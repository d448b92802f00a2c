"""Privacy: the two-senior reveal and erasure of identities."""
