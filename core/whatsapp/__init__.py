"""WhatsApp Business Cloud API: webhook parsing, durable admission, the 24-hour window."""
