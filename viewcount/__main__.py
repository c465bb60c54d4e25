import sys

from viewcount.cli import main

sys.exit(main())
