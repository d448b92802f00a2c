"""What a person in a private chat does besides the three flows, channel-free: /start and its
links and menu, /help, /cancel, /status and /add, answers to moderators, the language, /forget,
case cards, family links and feedback, the rate limit's notice, and the fallback.

Each use is a function of the engine's `Conversation` and plain inputs (a command's argument,
a button's data, text), replying through `conversation.say`, so any channel's router can call
it. Telegram's thin handlers are in telegram/.
"""
