"""File stores: the raw store (master dataset) and the audit store sit on one of these.

:class:`~adapters.files.base.FileStore` is the interface; :mod:`.local` and :mod:`.webhdfs`
implement it for a local file system and for HDFS (through WebHDFS), each with a typed config.
Paths are relative to the store's root and always use ``/``.
"""
