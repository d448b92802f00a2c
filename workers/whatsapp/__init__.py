"""WhatsApp Business Cloud API: the Graph API client and the outbox sender."""
