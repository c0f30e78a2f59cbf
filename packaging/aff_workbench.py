"""Entry point of the frozen bundle: the desktop app, or ``--engine ARGS`` for the engine CLI.

The bundle has no Python interpreter, so workers run as this same executable with
``--engine worker ...`` (see ``engine.jobs.engine_command``), and multiprocessing's spawned
children (phantom generation, import) re-enter here: ``freeze_support`` catches those first.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from affgui.app import main

    sys.exit(main())
