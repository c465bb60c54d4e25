"""Redis, as every store on it sees it: a typed config, a connection whose driver errors arrive as
:class:`~.exceptions.ServingStoreError`, and scripts loaded once and called by SHA.

The stores themselves live with the layer that owns what they store: the speed layer's atomic
step (``speed_layer/redis_store.py`` + ``step.lua``), the batch layer's versioned views
(``batch_layer/redis_views.py``) and the serving layer's merged read (``serving_layer/redis_reader.py``
+ ``read.lua``). The key layout they share is :mod:`viewcount.keys`.
"""
