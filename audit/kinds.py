"""The kinds of audit record, one name each: what the ledger's readers fold by."""

BATCH_PUBLISH = "batch_publish"
BATCH_REPLAY = "batch_replay"
PAYOUT = "payout"
ADJUSTMENT = "adjustment"
OWNERSHIP = "ownership"
RETENTION_GAP_ACCEPTED = "retention_gap_accepted"   # a layer started past offsets retention deleted (--accept-gap)
HOLE_ACCEPTED = "hole_accepted"   # offsets lost from the master dataset and from Kafka, accepted by an operator
RAW_COMPACTION = "raw_compaction"   # range files of a closed ingest hour merged into one (`ingest compact`)

PAID_KINDS = (PAYOUT, ADJUSTMENT)
