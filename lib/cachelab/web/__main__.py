"""``python -m cachelab.web``: serve the shop over HTTP (see ``cachelab.web._server``)."""

import sys

from cachelab.web._server import main

if __name__ == "__main__":
    sys.exit(main())
