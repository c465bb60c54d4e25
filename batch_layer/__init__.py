"""Batch layer: the Spark recompute of versioned batch views from the master dataset, their
atomic publish under a watermark, replays of event days, and data checks. Built in the batch-layer
milestone."""
