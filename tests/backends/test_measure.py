"""The one error measure of the conformance reports (ssdref.backends.measure.scaled_error)."""
import numpy as np

from ssdref.backends import measure


def test_scaled_error_divides_by_the_reference_not_by_the_larger_of_the_two():
    expected = np.array([1.0, -2.0], np.float32)
    actual = np.array([1.0, -6.0], np.float32)
    assert measure.scaled_error(actual, expected) == 2.0            # 4 / max|expected|, not 4 / 6
    assert measure.scaled_error(expected, actual) == 4.0 / 6.0


def test_the_floor_judges_an_output_against_the_size_of_its_inputs():
    expected = np.array([1e-3], np.float64)
    actual = np.array([2e-3], np.float64)
    assert measure.scaled_error(actual, expected) == 1.0
    assert measure.scaled_error(actual, expected, floor=10.0) == 1e-4


def test_identical_is_zero_and_shape_dtype_or_nan_pattern_mismatches_are_inf():
    x = np.array([0.0, np.nan, np.inf], np.float32)
    assert measure.scaled_error(x, x.copy()) == 0.0
    assert measure.scaled_error(np.zeros(2), np.zeros(2)) == 0.0
    assert measure.scaled_error(np.zeros(2, np.float32), np.zeros(2, np.float64)) == float("inf")
    assert measure.scaled_error(np.zeros(3), np.zeros(2)) == float("inf")
    assert measure.scaled_error(np.array([np.nan, 1.0]), np.array([0.0, 1.0])) == float("inf")
    assert measure.scaled_error(np.array([1e-9]), np.array([0.0])) == float("inf")   # nothing to scale by


def test_float64_variant_and_every_report_uses_the_same_definition():
    assert measure.scaled_error_as_float64(np.float32([1, 3]), np.float64([1, 2])) == 0.5
    from ssdref.backends import conformance_cases, mxnet_graph, torch_conformance
    assert conformance_cases.scaled_error is measure.scaled_error
    assert mxnet_graph.scaled_error(np.float32([3]), np.float32([2])) == 0.5
    assert torch_conformance.relative_error(np.float64([2]), np.float32([3])) == 0.5    # reference first
