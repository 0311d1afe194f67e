"""`python -m ssdref ...` is the `ssdref` command."""
from ssdref.cli import main

raise SystemExit(main())
