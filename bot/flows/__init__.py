"""The assistant's flows, one module each: details (with consent, then the enquiry), booking,
manage (move or cancel), human, erase, and the safeguarding pause. `base` has what they share;
bot/router.py is the table that joins them."""
