import sys

from ferbench._entry import script

sys.exit(script())
