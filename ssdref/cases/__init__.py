"""The case catalogue: cases declared once and read by the golden set, conformance and the tests.

    spec    the multibox ground-truth cases of spec mxnet-semantics.md §8 (T*, D*)
"""
