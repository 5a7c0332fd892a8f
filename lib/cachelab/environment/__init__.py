"""The course's environment: the Redis server it talks to, lesson 00's checklist, and reset.

- ``redis_server``  finds the Redis server the course talks to, or starts a private one;
- ``cluster``       a real Redis Cluster of 3 primaries and 3 replicas on 127.0.0.1 (lesson 12);
- ``checklist``     lesson 00's set-up checklist;
- ``reset``         deletes the course's data, and only the course's.
"""

__all__: list[str] = []
