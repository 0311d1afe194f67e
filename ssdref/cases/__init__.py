"""The case catalogue: every case declared once, read by the golden set, conformance, the MXNet
recording, the gradient checks and the tests.

    case        the one op-call type (`Case`), `run_op` (through the registry OpDef) and
                `seeded_inputs` (the seeded inputs of a layer case)
    spec        the multibox ground-truth cases of spec mxnet-semantics.md §8 (T*, D*)
    multibox    seeded random multibox cases; the boundary and random NMS / matching cases of
                the torch and ONNX Runtime reports
    layers      every non-multibox op in seeded configurations (golden set and gradient checks)
    graphs      the tiny-SSD training step and the SSD300 deploy graph; the random-parameter SSD
                setups of the MXNet, torch and ONNX Runtime comparisons
    recorded    the cases recorded on real MXNet 1.9.1 (golden/mxnet-1.9.1/)
    generators  hypothesis generators of op cases (the conformance runs)
    torch_ops   seeded one-op cases of the torch report (NumPy draws, no hypothesis)
"""
