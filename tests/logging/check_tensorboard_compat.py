#!/usr/bin/env python3
"""Reads an event file written by our TensorBoardWriter with TensorBoard's own
EventAccumulator and checks every tag, step and value against the exact doubles the sample
writer also logged as JSONL (rounded to float32, as simple_value is).

Usage: check_tensorboard_compat.py <write_tensorboard_sample binary> <scratch dir>
Exits 77 (ctest SKIP_RETURN_CODE) when the tensorboard package is not importable: CI does
not install it; run the test with a Python that has it to check compatibility.
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys

try:
    from tensorboard.backend.event_processing import event_accumulator
except ImportError as error:
    print(f"SKIPPED TensorBoard compatibility: cannot import tensorboard ({error})")
    sys.exit(77)


def as_float32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def main():
    sample_binary, scratch = sys.argv[1], sys.argv[2]
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    path = subprocess.run([sample_binary, scratch], check=True, capture_output=True,
                          text=True).stdout.strip()

    expected = {}  # tag -> [(step, value)]
    with open(os.path.join(scratch, "expected.jsonl")) as lines:
        for line in lines:
            record = json.loads(line)
            step = record.pop("step")
            for tag, value in record.items():
                expected.setdefault(tag, []).append((step, value))

    # size_guidance 0 = keep every event (the default samples scalars down to 10000).
    accumulator = event_accumulator.EventAccumulator(
        scratch, size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    assert accumulator.file_version == 2.0, accumulator.file_version
    tags = accumulator.Tags()["scalars"]
    assert sorted(tags) == sorted(expected), (tags, sorted(expected))
    checked = 0
    for tag, points in expected.items():
        events = accumulator.Scalars(tag)
        got = [(event.step, event.value) for event in events]
        want = [(step, as_float32(value)) for step, value in points]
        assert len(got) == len(want), (tag, got, want)
        for (got_step, got_value), (want_step, want_value) in zip(got, want):
            assert got_step == want_step, (tag, got_step, want_step)
            assert got_value == want_value or (math.isnan(got_value) and math.isnan(want_value)), \
                (tag, got_step, got_value, want_value)
            checked += 1
        for event in events:
            assert abs(event.wall_time - os.path.getmtime(path)) < 3600, event.wall_time
    # The text: in TensorBoard's Text tab (plugin "text") under args/text_summary, at step 0.
    with open(os.path.join(scratch, "expected_text.txt"), encoding="utf-8") as file:
        text = file.read()
    assert "args/text_summary" in accumulator.PluginTagToContent("text"), accumulator.Tags()
    texts = accumulator.Tensors("args/text_summary")
    assert len(texts) == 1 and texts[0].step == 0, texts
    assert [s.decode("utf-8") for s in texts[0].tensor_proto.string_val] == [text], texts[0].tensor_proto
    print(f"TensorBoard read {checked} scalars under {len(tags)} tags and the text from "
          f"{os.path.basename(path)}: all steps and values match")


if __name__ == "__main__":
    main()
