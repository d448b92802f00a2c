"""Area alerts: who hears about a case, what they are told, catching up."""
