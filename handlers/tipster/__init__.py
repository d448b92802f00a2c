"""What a person in a private chat does besides the three flows: /start and its menu, /help,
/cancel, /status and /add, answers to moderators, the language, /forget, case cards, family
links, the rate limit's notice, and the fallback that answers whatever no one else took."""
