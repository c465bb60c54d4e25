"""The application's assembly, the composition root: the only place where settings become clients.

:mod:`.wiring` builds every client and layer from :class:`~viewcount.settings.Settings`;
:mod:`.cli` is the `viewcount` command; :mod:`.demo` the main job end to end;
:mod:`.batch_operations` and :mod:`.billing_operations` are the one-call operations the CLI and the
Airflow DAGs share (:mod:`.dag_support`). Nothing below this package imports it.
"""
