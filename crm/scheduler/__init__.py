"""The scheduler: one active process (a database lease) runs the jobs in `jobs.JOBS`, which scan
for what is due and write the outbox, and the dispatcher that sends the outbox.

Run it with `fostercrm scheduler` (foreground); `fostercrm up` runs that same command as a child
process of its own (crm.cli.background), so the web never shares a process with it.
Never from the web app factory: web workers are many, the scheduler must be one.
"""
