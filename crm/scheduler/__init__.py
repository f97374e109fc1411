"""The scheduler: one active process (a database lease) runs the jobs in `jobs.JOBS`, which scan
for what is due and write the outbox, and the dispatcher that sends the outbox.

Run it with `fostercrm scheduler` (foreground) or inside `fostercrm up` (runner.start_for_up).
Never from the web app factory: web workers are many, the scheduler must be one.
"""
