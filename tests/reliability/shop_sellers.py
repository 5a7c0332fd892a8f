"""The worker processes of ``test_shop_writes``: threads that sell the last units of a product.

Importable by name (spawned processes find it on the path the test process had), so it
holds nothing but the worker function.

In each round every thread of every process waits at one barrier, then opens a ``Shop``
of its own -- as the web service does on a thread's first request -- and sells one unit
of that round's product. Opening a Shop while sibling threads write is what once
dropped their SQLite locks (``data._describe`` read the file with ``open()``).
"""

from __future__ import annotations

import threading

from cachelab.shop.app import OutOfStock, Shop


def sell_the_last_units(
    shop_path: str, threads: int, product_ids: list[int], barrier, results
) -> None:
    """Sell one unit per thread per round, a product per round; put (answered, refused, errors)."""
    answered = [0] * len(product_ids)
    refused = [0] * len(product_ids)
    errors: list[str] = []
    count = threading.Lock()

    def seller() -> None:
        for round_index, product_id in enumerate(product_ids):
            barrier.wait()
            try:
                shop = Shop(shop_path)
                try:
                    shop.sell(product_id, 1)
                    outcome = answered
                except OutOfStock:
                    outcome = refused
                finally:
                    shop.close()
                with count:
                    outcome[round_index] += 1
            except Exception as error:  # noqa: BLE001 -- every failure is counted, not raised
                with count:
                    errors.append(f"{type(error).__name__}: {error}")

    workers = [threading.Thread(target=seller) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put((answered, refused, errors))
