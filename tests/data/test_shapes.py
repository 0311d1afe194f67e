"""The synthetic shapes data set: deterministic, VOC-style labels that match what is drawn, fast batches."""
import time

import numpy as np
import pytest

from ssdref.data import (CLASS_NAMES, MEAN_RGB, STD, ShapesIter, denormalize, load_split, make_images, normalize,
                         render_image, train_val_split)
from ssdref.data.shapes import _cover_of_smaller, _shape_mask


@pytest.fixture(scope="module")
def sample():
    return make_images(200, 64, seed=3)


def test_same_seed_gives_the_same_bytes_and_image_i_does_not_depend_on_the_batch():
    a_images, a_labels = make_images(10, 48, seed=5)
    b_images, b_labels = make_images(10, 48, seed=5)
    assert a_images.tobytes() == b_images.tobytes() and a_labels.tobytes() == b_labels.tobytes()
    part_images, part_labels = make_images(4, 48, seed=5, start=6)
    assert part_images.tobytes() == a_images[6:].tobytes()
    assert part_labels.tobytes() == a_labels[6:].tobytes()
    other, _ = make_images(10, 48, seed=6)
    assert other.tobytes() != a_images.tobytes()


def test_train_and_val_splits_are_different_images():
    (train_x, train_y), (val_x, val_y) = train_val_split(6, 6, 32, seed=0)
    assert train_x.shape == val_x.shape == (6, 3, 32, 32)
    assert not np.array_equal(train_x, val_x) and not np.array_equal(train_y, val_y)


def test_labels_are_voc_rows_normalized_and_padded_with_minus_one(sample):
    _, labels = sample
    assert labels.shape == (200, 4, 6) and labels.dtype == np.float32
    valid = labels[:, :, 0] >= 0
    counts = valid.sum(1)
    assert counts.min() >= 1 and counts.max() <= 4
    # valid rows first, then padding rows that are -1 in every column
    assert np.all(valid == (np.arange(4)[None, :] < counts[:, None]))
    assert np.all(labels[~valid] == -1)
    rows = labels[valid]
    assert set(np.unique(rows[:, 0]).astype(int)) == {0, 1, 2}
    assert np.all((rows[:, 1:5] >= 0) & (rows[:, 1:5] <= 1))
    assert np.all(rows[:, 3] > rows[:, 1]) and np.all(rows[:, 4] > rows[:, 2])
    assert np.all(rows[:, 5] == 0)
    sides = rows[:, 3] - rows[:, 1]
    assert sides.min() >= 0.2 - 1e-6 and sides.max() <= 0.5 + 1e-6


def test_objects_overlap_sometimes_but_never_cover_much_of_each_other(sample):
    _, labels = sample
    overlapping = 0
    for image_labels in labels:
        boxes = image_labels[image_labels[:, 0] >= 0, 1:5].astype(np.float64)
        for i in range(len(boxes)):
            for j in range(i):
                cover = _cover_of_smaller(boxes[i], boxes[j])
                assert cover <= 0.35 + 1e-6
                overlapping += cover > 0
    assert overlapping >= 10


@pytest.mark.parametrize("cls, area_ratio", [(0, np.pi / 4), (1, 1.0), (2, 0.5)])
@pytest.mark.parametrize("orientation", [0, 1, 2, 3])
def test_each_shape_fills_its_box_exactly(cls, area_ratio, orientation):
    ys, xs = np.mgrid[0:80, 0:80] + 0.5
    box = (10.0, 20.0, 50.0, 60.0)
    mask = _shape_mask(cls, box, orientation, xs, ys)
    rows, cols = np.where(mask)
    assert cols.min() >= 9 and cols.max() <= 50 and rows.min() >= 19 and rows.max() <= 60
    assert cols.max() - cols.min() >= 38 and rows.max() - rows.min() >= 38    # touches all four sides
    assert mask.sum() / 1600.0 == pytest.approx(area_ratio, abs=0.05)


def test_drawn_object_stands_out_from_the_background_inside_its_box():
    rng = np.random.default_rng(11)
    for _ in range(20):
        image, objects = render_image(rng, 64, min_objects=1, max_objects=1)
        cls, x0, y0, x1, y1, _ = objects[0]
        cx, cy = int((x0 + x1) / 2 * 64), int((y0 + y1) / 2 * 64)
        inside = image[cy - 1:cy + 2, cx - 1:cx + 2].reshape(-1, 3).astype(float)
        assert inside.std(0).max() < 1e-9              # flat colour, no noise, in the shape's centre
        corner = image[0:2, 0:2].reshape(-1, 3).astype(float)
        assert corner.std(0).max() > 0                 # background is noisy


def test_normalize_is_mean_subtraction_over_std_in_nchw_and_denormalize_inverts_it():
    images, _ = make_images(3, 32, seed=1)
    data = normalize(images)
    assert data.shape == (3, 3, 32, 32) and data.dtype == np.float32
    assert data[1, 2, 5, 7] == np.float32((np.float32(images[1, 5, 7, 2]) - np.float32(MEAN_RGB[2])) / np.float32(STD))
    np.testing.assert_array_equal(denormalize(data), images)
    exact = normalize(images, std=1.0)
    assert exact[0, 0, 0, 0] == float(images[0, 0, 0, 0]) - 123.0


def test_iterator_batches_shapes_and_epoch_shuffling():
    it = ShapesIter(10, 4, 32, seed=2)
    assert len(it) == 2 and it.provide_data == [("data", (4, 3, 32, 32))]
    batches = list(it)
    assert [d.shape for d, _ in batches] == [(4, 3, 32, 32)] * 2
    assert batches[0][1].shape == (4, 4, 6)
    again = list(it)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches, again))     # same epoch, same order
    first_order = it.order()
    it.reset()
    assert not np.array_equal(first_order, it.order())
    assert sorted(it.order()) == list(range(10))


def test_iterator_last_batch_modes_and_unshuffled_val():
    data, labels = load_split("val", 5, 32, seed=2)
    keep = list(ShapesIter(5, 2, 32, seed=2, split="val", last_batch="keep"))
    assert [d.shape[0] for d, _ in keep] == [2, 2, 1]
    np.testing.assert_array_equal(np.concatenate([d for d, _ in keep]), data)
    np.testing.assert_array_equal(np.concatenate([lab for _, lab in keep]), labels)
    padded_iter = ShapesIter(5, 2, 32, seed=2, split="val", last_batch="pad")
    padded = list(padded_iter)
    assert len(padded) == 3 and padded_iter.pad == 1
    np.testing.assert_array_equal(padded[-1][0][1], data[0])                    # wrapped from the start
    assert len(ShapesIter(5, 2, 32, split="val")) == 2


def test_a_64_image_batch_renders_well_under_a_second():
    make_images(1, 96)
    best = min(_timed(lambda: next(iter(ShapesIter(64, 64, 96, seed=i)))) for i in range(2))
    assert best < 1.0


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="data_shape"):
        make_images(1, 8)
    with pytest.raises(ValueError, match="split"):
        make_images(1, 32, split="holdout")
    with pytest.raises(ValueError, match="min_objects"):
        make_images(1, 32, min_objects=3, max_objects=2)
    with pytest.raises(ValueError, match="batch_size"):
        ShapesIter(4, 0)
    with pytest.raises(ValueError, match="last_batch"):
        ShapesIter(4, 2, last_batch="roll_over")
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        normalize(np.zeros((2, 3, 8, 8), np.uint8))
    assert CLASS_NAMES == ("circle", "square", "triangle")
