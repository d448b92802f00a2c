"""Delivery: the durable inbox in, the outbox and police packets out."""
