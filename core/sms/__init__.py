"""SMS through a Twilio-compatible provider: the webhook's signature and form, admission,
STOP/START/HELP, segments and the plain-text rendering of a flow's choices."""
