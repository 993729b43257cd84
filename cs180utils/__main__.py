import sys

from cs180utils.machinery.cli import main

sys.exit(main())
