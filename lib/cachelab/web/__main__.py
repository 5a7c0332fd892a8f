"""``python -m cachelab.web``: serve the shop over HTTP (see ``cachelab.web.server``)."""

import sys

from cachelab.web.server import main

if __name__ == "__main__":
    sys.exit(main())
