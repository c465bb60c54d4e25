"""viewcount's kernel: what every layer must agree on, and nothing else.

The event model (:mod:`.events`), the counting rules (:mod:`.rules`), the settings
(:mod:`.settings`), time (:mod:`.timeutil`), the master dataset's layout (:mod:`.rawdata`) and the
serving store's key layout (:mod:`.keys`). All of it is pure: no clients, no I/O. It imports no
adapter, layer or application module (``tests/test_import_direction.py`` holds it to that).
"""

__version__ = "0.1.0"
