"""The chat assistant: answers questions about fostering, takes enquiries and books initial
visits, on Telegram and in the web chat.

- `bot.assistant`: channel-free; a message or button press in, replies and actions out.
- `bot.knowledge`: the editable knowledge base (config/knowledge/) and the CRM's edits to it.
- `bot.matching`: local matching (text-speak, spelling, synonyms, TF-IDF); no network service.
- `bot.safeguarding`: fixed patterns, checked first on every message.
- `bot.conversations`: conversation state, transcripts and erasure, in the database.
- `bot.telegram`: the python-telegram-bot adapter (`fostercrm bot`, `fostercrm up`).
- `bot.webchat`: the public web chat page and the admin page for answers (Flask blueprint).
- `bot.cli`: `fostercrm bot` and `fostercrm chat` (`--once TEXT --json`, `--eval FILE`).
"""
