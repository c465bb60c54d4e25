"""Batch layer: the Spark recompute of versioned batch views from the master dataset, their
atomic publish under a watermark (:mod:`.views_store`, on Redis :mod:`.redis_views`), replays of
event days, and data checks."""
