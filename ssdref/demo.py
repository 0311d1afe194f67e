"""`ssdref demo`: the main job (for now: every op's gradient check, then the SSD300 graph)."""
from __future__ import annotations


def run_demo(args) -> int:
    from ssdref.cli import gradcheck_table

    print("ssdref demo: float64 gradient check of every layer")
    table, ok = gradcheck_table()
    print(table)
    return 0 if ok else 1
