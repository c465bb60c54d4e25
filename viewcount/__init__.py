"""viewcount's shared kernel: what every layer must agree on.

The event model (:mod:`viewcount.events`), the counting rules (:mod:`viewcount.rules`), the
settings (:mod:`viewcount.settings`), time helpers, the Kafka client seam
(:mod:`viewcount.kafka`), the local stack (:mod:`viewcount.stack`) and the CLI. Layers depend on
this package and never on each other.
"""

__version__ = "0.1.0"
