"""Serving layer: the authenticated HTTP API that merges batch views below the watermark with
speed buckets at or after it (CONTRACT §6), and the creator dashboard.

:mod:`.auth` (admin token, creator API keys), :mod:`.ratelimit` (per key), :mod:`.app` (the
routes, built from injected parts), :mod:`.metrics`, :mod:`.views` (what it reads, and the
interfaces it reads through) with :mod:`.redis_reader` and ``read.lua``; :mod:`app.wiring`
assembles them.
"""
