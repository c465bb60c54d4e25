"""The video catalog (CONTRACT §9): who owns which video from which hour, kept as ``ownership``
records in the audit ledger, so every assignment is durable, audited and never rewritten, and the
catalog rebuilds from the ledger alone (nothing of it lives only in Redis)."""
