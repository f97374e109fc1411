"""Pages the public reach from our emails without signing in: answering a check-in in one
click, and unsubscribing. Every link carries a signed, expiring token."""
