"""The chat assistant: answers questions about fostering, takes enquiries and books initial
visits, on Telegram and in the web chat.

- `bot.assistant`: channel-free; a message or button press in, replies and actions out.
- `bot.router`: the map: states and their handlers, the flows' entry points, the commands, and
  the order of checks (safeguarding first).
- `bot.flows`: details (with consent, then the enquiry), booking, manage, human, erase, and the
  safeguarding pause.
- `bot.parsing`: names, contact details, postcodes, yes and no, days and times.
- `bot.knowledge`: the editable knowledge base (config/knowledge/) and the CRM's edits to it.
- `bot.matching`: local understanding (text-speak, spelling, synonyms, a calibrated linear
  classifier); no network service.
- `bot.evaluation`: accuracy on labelled files and by cross-validation.
- `bot.safeguarding`: the safeguarding detector, checked first on every message.
- `bot.conversations`: conversation state, transcripts and erasure, in the database.
- `bot.telegram`: the python-telegram-bot adapter (`fostercrm bot`, `fostercrm up`).

The web chat page and the admin page for answers are crm.web.chat; the commands `fostercrm bot`
and `fostercrm chat` are crm.cli.bot and crm.cli.chat.
"""
