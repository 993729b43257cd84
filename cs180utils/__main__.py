import sys

from cs180utils.cli import main

sys.exit(main())
