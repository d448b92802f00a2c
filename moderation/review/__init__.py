"""Review: the queue, a tip's page, decisions, notes, answers, face verdicts."""
