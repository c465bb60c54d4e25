"""Tools for running viewcount on one machine, apart from the product: the local stack of real
services (:mod:`.stack`), the traffic generator with its truth (:mod:`.generate`) and a private
sandbox of free ports for checks and benchmarks (:mod:`.sandbox`)."""
