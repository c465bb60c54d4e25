"""Audit ledger: append-only, hash-chained records in canonical JSON on the audit store, and
their offline verification. Built with the batch layer."""
