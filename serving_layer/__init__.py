"""Serving layer: the authenticated HTTP API that merges batch views below the watermark with
speed buckets at or after it, and the creator dashboard. Built in the serving-layer milestone."""
