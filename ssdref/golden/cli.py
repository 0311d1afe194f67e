"""`ssdref golden generate [--out DIR] [--case NAME ...] | verify [DIR] | diff A B`.

Every problem prints as one line and the exit status is 1; nothing prints a traceback."""
from __future__ import annotations

import sys

from ssdref.golden.store import GoldenReadError, generate
from ssdref.golden.verify import GoldenMismatchError, diff, verify


class _Progress:
    """progress(index, total, case_name) for generate/verify, called before each case and once
    more with index == total at the end: a tqdm bar on stderr (the 'progress' extra), else a
    status line on stderr every 10 cases."""

    def __init__(self, desc):
        self.desc, self.bar = desc, None

    def __call__(self, index, total, name):
        if self.bar is None and index == 0:
            try:
                from tqdm.auto import tqdm
                self.bar = tqdm(total=total, desc=self.desc, unit="case", file=sys.stderr,
                                dynamic_ncols=True, mininterval=0.5)
            except ImportError:
                self.bar = False
        if self.bar:
            self.bar.set_postfix_str(name[:40], refresh=False)
            self.bar.update(1 if index else 0)
            if index == total:
                self.bar.close()
        elif index % 10 == 0 or index == total:
            print(f"{self.desc}: {index}/{total} done{'' if index == total else ', now ' + name}",
                  file=sys.stderr, flush=True)


def _generate(args) -> int:
    try:
        changed = generate(args.out, cases=args.case, progress=_Progress("golden generate"))
    except (ValueError, OSError) as exc:
        print(f"golden generate: {' '.join(str(exc).split())}")
        return 1
    print(f"golden: {len(changed)} file(s) changed in {args.out}"
          + "".join(f"\n  {f}" for f in changed)
          + ("\n(review with `git diff` / `ssdref golden diff`)" if changed else ""))
    return 0


def _verify(args) -> int:
    from ssdref.backend import use_backend
    try:
        with use_backend(args.backend):
            report = verify(args.dir, skip_slow=args.quick, recompute=not args.hashes_only,
                            rederive=not args.no_rederive, progress=_Progress("golden verify"))
    except GoldenMismatchError as exc:
        print(exc)
        return 1
    except (GoldenReadError, OSError) as exc:
        print(f"golden verify: {' '.join(str(exc).split())}")
        return 1
    print(f"golden verify: {args.dir or 'golden'} OK ({report['cases']} cases, "
          f"{report['recomputed']} recomputed in portable precision on the {args.backend} backend, "
          f"hashes checked"
          + (f", skipped {report['skipped']}" if report["skipped"] else "") + ")")
    return 0


def _diff(args) -> int:
    lines = diff(args.a, args.b)
    print("\n".join(lines) if lines else
          f"golden diff: {args.a} and {args.b} hold the same cases and arrays")
    return 1 if lines else 0


def add_cli(subparsers):
    """Register `ssdref golden generate|verify|diff`."""
    parser = subparsers.add_parser("golden", help="generate, verify or diff the golden outputs")
    sub = parser.add_subparsers(dest="golden_command", required=True)
    p = sub.add_parser("generate", help="regenerate every declared case (byte-identical), in "
                                        "portable precision")
    p.add_argument("--out", default="golden", help="folder to write (default: golden)")
    p.add_argument("--case", action="append", default=None, metavar="NAME",
                   help="only this declared case (repeatable); the manifest keeps the others")
    p.set_defaults(func=_generate)
    p = sub.add_parser("verify", help="check hashes and files, recompute every case from its "
                                      "stored inputs under its precision tier")
    p.add_argument("dir", nargs="?", default=None, help="default: the checkout's golden/")
    p.add_argument("--quick", action="store_true", help="skip the slow SSD300 case")
    p.add_argument("--hashes-only", action="store_true", help="check files and hashes, no recompute")
    p.add_argument("--backend", default="numba", choices=("numpy", "numba", "cuda"),
                   help="recompute with the Numba kernels (default), the NumPy specification, or "
                        "numba.cuda")
    p.add_argument("--no-rederive", action="store_true",
                   help="do not re-derive the inputs from their seeds (stored inputs are the truth)")
    p.set_defaults(func=_verify)
    p = sub.add_parser("diff", help="compare two golden folders, array by array")
    p.add_argument("a", help="first golden folder")
    p.add_argument("b", help="second golden folder")
    p.set_defaults(func=_diff)
