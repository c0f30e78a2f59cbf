"""``python -m affgui``: start the desktop application."""

from affgui.app import main

raise SystemExit(main())
