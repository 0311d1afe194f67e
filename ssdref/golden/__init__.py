"""Golden outputs: one declared list of cases -> `golden/*.npz` + `golden/manifest.json`.

Format (schema_version 2; read by `ssdref.testing.goldens`, described in docs/golden-format.md):
every case is one deterministic `.npz` holding its inputs and outputs by name; the manifest
records op or graph, parameters, seed, dtype, array names, the sha256 of every stored input, each
output's precision tier, the consumer tolerances, file and sha256. The stored inputs are the
truth: `verify` recomputes the outputs from them in 'portable' precision (bit-identical on every
machine) and re-derives the inputs from their seeds as a check of its own.

  cases.py   the catalogue's cases (ssdref.cases) as golden recipes and runs, in manifest order
  tiers.py   precision tiers: exact, ulp:N
  store.py   npz bytes, array hashes, reading damaged files cleanly, generate
  verify.py  verify, diff
  cli.py     ssdref golden generate | verify | diff
"""
from ssdref.cases.layers import LAYERS  # noqa: F401
from ssdref.golden.cases import (EXACT, SSD300, TINY, Case, GoldenRecipe, declared_cases,  # noqa: F401
                                 parameters_sha256, run_op, ssd300_arguments)
from ssdref.golden.cli import add_cli  # noqa: F401
from ssdref.golden.store import (MANIFEST, GoldenReadError, array_sha256, compute,  # noqa: F401
                                 generate, manifest_header, npz_bytes, read_arrays)
from ssdref.golden.tiers import declared_tiers, parse_tier, tier_problem, ulp_distance  # noqa: F401
from ssdref.golden.verify import GoldenMismatchError, diff, verify, verify_case  # noqa: F401
