"""Order-preserving batching across files: order, grouping and the bound on what is held back."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from svdgrad_cli.errors import InputError
from svdgrad_cli.model import MatrixCase
from svdgrad_cli.pipeline.batching import batched_in_order

item_kinds = st.lists(st.one_of(st.sampled_from([(2, 2), (3, 2), (2, 3)]), st.none()), max_size=60)


def make_items(kinds):
    items = []
    for seq, shape in enumerate(kinds):
        if shape is None:
            items.append(InputError(f"f{seq}", "bad"))
        else:
            items.append(MatrixCase(f"f{seq}", (), np.full(shape, float(seq))))
    return items


@settings(max_examples=60, derandomize=True, deadline=None)
@given(item_kinds, st.integers(4, 40), st.integers(1, 8))
def test_results_come_out_in_input_order_and_batches_share_a_shape(kinds, batch_elements, max_waiting):
    items = make_items(kinds)
    calls = []
    held = []

    def process(batch):
        calls.append(batch)
        assert len({case.array.shape for case in batch}) == 1
        return [case.source for case in batch]

    def tracked():
        for item in items:
            held.append(item)
            yield item

    out = list(batched_in_order(tracked(), process, lambda e: e.source, batch_elements, max_waiting))
    assert out == [f"f{i}" for i in range(len(items))]
    assert sum(len(c) for c in calls) == sum(1 for k in kinds if k is not None)
    for batch in calls:
        assert len(batch) == 1 or len(batch) * batch[0].array.size <= batch_elements + batch[0].array.size


def test_many_small_matrices_of_one_shape_go_out_in_few_calls():
    items = make_items([(2, 2)] * 100)
    calls = []

    def process(batch):
        calls.append(len(batch))
        return [case.source for case in batch]

    out = list(batched_in_order(items, process, lambda e: e.source, batch_elements=10**6, max_waiting=1000))
    assert len(out) == 100
    assert calls == [100]


def test_waiting_is_bounded_when_one_shape_is_rare():
    # One rare shape first, then many of another: the rare one must not hold everything back.
    items = make_items([(3, 2)] + [(2, 2)] * 50)
    consumed = []

    def tracked():
        for item in items:
            consumed.append(item)
            yield item

    outputs = batched_in_order(tracked(), lambda b: [c.source for c in b], lambda e: e.source, 10**6, 5)
    assert next(outputs) == "f0"
    assert len(consumed) <= 7  # held back: at most max_waiting + 1 others, not the whole input
    assert list(outputs) == [f"f{i}" for i in range(1, 51)]
