"""The course's environment: the Redis server it talks to, lesson 00's checklist, and reset.

- ``redis_server``  finds the Redis server the course talks to, or starts a private one;
- ``checklist``     lesson 00's set-up checklist;
- ``reset``         deletes the course's data, and only the course's.
"""

__all__: list[str] = []
