import sys

from kanlab.apps.cli import main

sys.exit(main())
