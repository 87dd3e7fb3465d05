"""Alerts: written in the transaction that causes them (the outbox), delivered by the dispatcher.

``outbox.enqueue`` is the only way an alert comes into being; ``dispatch.dispatch_pending``
is the only way one leaves the building.
"""
