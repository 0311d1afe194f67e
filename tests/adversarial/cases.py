"""The bad inputs of the adversarial harness, declared as data (issue 17).

Each case is `Case(id, call, expect, names)`:
- `call`: a `Call(target, *args, **kwargs)`; target "nd.<Op>", "contrib.<Op>", "cli" (argv as the
  one argument), or "fn.<name>" (a scenario function in `SCENARIOS` below: symbol building,
  binding, JSON and .params loading, run_checkpoint).
- `expect`: "raise" (a ValueError/TypeError, or a type listed in `allowed`, whose message names
  one of `names`), "ok" (MXNet accepts the input: a result, and `check` passes when given),
  "ok_or_raise" (MXNet's behaviour is not pinned here: a finite result, or a clear error),
  "exit" (the CLI: exit status 1 or 2, a message on stderr naming one of `names`, no traceback).
Arrays are built once in the parent (the cases run in forked children); `describe` prints them
as shape and dtype so that every reported call is exact and short.
"""
from cases_base import CASES, TMP, Call, Case, describe  # noqa: F401
from cases_ops import anchors, cls_pred, cls_prob, fm, label, loc, nms_data  # noqa: F401
from cases_api import PREFIX, img  # noqa: F401
