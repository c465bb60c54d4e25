"""Billing: creator payouts for closed months from batch views only, in Decimal, with
deterministic payout ids, adjustments and statements."""
