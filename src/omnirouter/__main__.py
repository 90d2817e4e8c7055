import sys

from omnirouter.cli import main

sys.exit(main())
