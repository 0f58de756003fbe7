import sys

from ferbench._entry import main

sys.exit(main())
