"""The ingest edge (CONTRACT §8): players and apps send views over HTTP; the collector produces
them to the views topic and answers 202 only once the broker has acknowledged every one."""
