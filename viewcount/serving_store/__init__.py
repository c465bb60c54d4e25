"""The serving store: what the speed layer writes and the API reads (Redis).

:mod:`.base` is the interface, :mod:`.redis_store` the Redis implementation with its typed
config; the key layout lives in :mod:`viewcount.keys`.
"""
