"""The filing work queue and ``tracker worker``.

``queue`` enqueues (a large upload spooled to a file, an inbox file, the evaluation after filings)
and wakes the workers; ``claim`` takes one job at a time under a lease; ``runner`` is the worker
loop (a process, or a thread inside ``tracker scheduler`` and ``tracker demo``); ``jobs`` does the
work of each kind of job; ``status`` tells a filer where its filing and its estimates are.
"""
