import sys

from ferbench.cli.main import main

sys.exit(main())
