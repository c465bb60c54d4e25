"""The program ``spark-submit`` runs for ``viewcount batch … --submit``: the same command, in the
driver process that spark-submit started."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
