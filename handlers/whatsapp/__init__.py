"""WhatsApp's side of the conversations: its messages read into plain input, and a channel that
writes the engine's replies as `whatsapp` outbox rows (sent by the relay)."""
