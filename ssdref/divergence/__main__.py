"""`python -m ssdref.divergence MODEL.onnx ...`: the command, as `ssdref divergence` runs it."""
import sys

from ssdref.divergence import main

sys.exit(main())
