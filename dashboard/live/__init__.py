"""Live pages: server-sent events that tell open pages a region changed, so they fetch it now.

`broker.py` fans an event out to this process's open streams (through Redis pub/sub to every
process when CACHE_URL is Redis); `views.py` is the stream (`GET /events/`), which htmx's SSE
extension turns into a region's fetch; `ahead.py` re-reads the stack list as it expires while
pages are open, so a change reaches them within one interval without webhooks (in a thread
of `loops.py`, as the notification watcher is). The 10-second
poll stays: a page behind a proxy that blocks events still refreshes.
"""
