import sys

from segbench.emulator.tools.common import main

sys.exit(main(sys.argv[1:]))
