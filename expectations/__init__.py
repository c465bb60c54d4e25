"""Great Expectations suites for raw batches, batch views and payouts. Built with the batch
layer."""
