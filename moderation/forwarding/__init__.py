"""Forwarding: leads to families and evidence packets to police."""
