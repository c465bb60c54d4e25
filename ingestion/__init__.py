"""Ingestion: ``produce`` (lines of a file to the views topic) and the raw-store sink (Kafka →
immutable Parquet master dataset on local disk or HDFS): exactly-once files named by offset range,
quarantine and dead letters for invalid records, flush progress for the batch watermark, and
re-ingest from Kafka."""
