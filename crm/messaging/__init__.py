"""Messages to people and staff: what each message is (catalogue), how it is written (render,
calendar) and how it travels (channels/, one module per channel), and the dispatcher that
sends what the outbox (crm.services.outbox) holds.

Adding a channel: a module in channels/ with its renderer and Sender, one line in
channels/__init__.py, the channel in the catalogue entries that may use it, and its template
files. Adding a message: one catalogue entry and its template folder in config/templates/.
"""
