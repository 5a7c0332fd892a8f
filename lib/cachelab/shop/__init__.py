"""The shop the course caches: a SQLite database of products and orders, and the code that reads
and writes it.

- ``data``        builds the shop's database, deterministically, in the sizes the course uses;
- ``app``         ``Shop``: the pages' queries and the writes, counting the SQL it runs;
- ``_build_lock`` the lock file that lets one process build a database while others wait.
"""

__all__: list[str] = []
