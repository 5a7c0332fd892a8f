"""Plumbing the lessons never import: argument checks and the watchdog of started processes.

- ``validation``  every check of an argument, with one style of message;
- ``watchdog``    stops a server or a service when the process that started it dies.
"""

__all__: list[str] = []
