"""`ssdref golden generate [--out DIR] [--case NAME ...] | verify [DIR] | diff A B`.

Every problem prints as one line and the exit status is 1; nothing prints a traceback."""
from __future__ import annotations

import sys

from ssdref.golden.store import GoldenReadError, generate
from ssdref.golden.verify import GoldenMismatchError, diff, verify


def _progress(index, total, name):
    if not sys.stderr.isatty():
        return
    sys.stderr.write(f"\r[{index + 1}/{total}] {name[:60]:<60}")
    sys.stderr.flush()
    if index + 1 == total:
        sys.stderr.write("\n")


def _generate(args) -> int:
    try:
        changed = generate(args.out, cases=args.case, progress=_progress)
    except (ValueError, OSError) as exc:
        print(f"golden generate: {' '.join(str(exc).split())}")
        return 1
    print(f"golden: {len(changed)} file(s) changed in {args.out}"
          + "".join(f"\n  {f}" for f in changed)
          + ("\n(review with `git diff` / `ssdref golden diff`)" if changed else ""))
    return 0


def _verify(args) -> int:
    try:
        report = verify(args.dir, skip_slow=args.quick, recompute=not args.hashes_only,
                        rederive=not args.no_rederive, progress=_progress)
    except GoldenMismatchError as exc:
        print(exc)
        return 1
    except (GoldenReadError, OSError) as exc:
        print(f"golden verify: {' '.join(str(exc).split())}")
        return 1
    print(f"golden verify: {args.dir or 'golden'} OK ({report['cases']} cases, "
          f"{report['recomputed']} recomputed in portable precision, hashes checked"
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
    p.add_argument("--no-rederive", action="store_true",
                   help="do not re-derive the inputs from their seeds (stored inputs are the truth)")
    p.set_defaults(func=_verify)
    p = sub.add_parser("diff", help="compare two golden folders, array by array")
    p.add_argument("a", help="first golden folder")
    p.add_argument("b", help="second golden folder")
    p.set_defaults(func=_diff)
