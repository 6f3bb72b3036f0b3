"""Spacelift's webhooks: the signed receiver, and the re-reads its deliveries hint at.

`receiver.py` answers a delivery at once (signature first, 401/404/400 otherwise); `hints.py`
re-reads what it names from Spacelift after the response, coalesced, and tells open pages
(`dashboard.live`); `stats.py` counts what arrived; `signature.py` checks X-Signature-256.
"""
