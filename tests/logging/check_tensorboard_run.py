#!/usr/bin/env python3
"""Reads what train_squad logs with TensorBoard's own reader (EventAccumulator), not ours:
two short runs into the same output_dir must each get their own runs/<Mon><DD>_<HH>-<MM>-<SS>_<host>
directory, as Hugging Face writes them, holding the train/* scalars of every logging step and the
eval/* scalars of --eval_strategy steps, equal (as float32) to the values in trainer_log.jsonl.

Usage: check_tensorboard_run.py <train_squad binary> <repository root> <scratch dir>
Exits 77 (ctest SKIP_RETURN_CODE) when the tensorboard package is not importable (CI installs it).
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

try:
    from tensorboard.backend.event_processing import event_accumulator
except ImportError as error:
    print(f"SKIPPED TensorBoard run check: cannot import tensorboard ({error})")
    sys.exit(77)


def as_float32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def main():
    binary, root, scratch = sys.argv[1], sys.argv[2], sys.argv[3]
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    out = os.path.join(scratch, "out")
    command = [binary, "--device", "cpu", "--model_name_or_path", os.path.join(root, "data/samples/tiny-bert-uncased"),
               "--train_file", os.path.join(root, "data/samples/squad-mini.json"),
               "--validation_file", os.path.join(root, "data/samples/squad-mini.json"),
               "--do_train", "--max_steps", "6", "--logging_steps", "2", "--eval_strategy", "steps",
               "--eval_steps", "3", "--max_eval_samples", "24", "--max_train_samples", "64",
               "--per_device_train_batch_size", "8", "--max_seq_length", "96", "--doc_stride", "48",
               "--save_steps", "0", "--report_to", "tensorboard", "--output_dir", out]
    for attempt in range(2):
        if attempt:
            time.sleep(1.1)  # a new second: a new run directory name
        # The second run replaces the first's model and results (refused without the flag) and
        # keeps its TensorBoard run directory beside its own.
        result = subprocess.run(command + (["--overwrite_output_dir"] if attempt else []), capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]

    pattern = re.compile(r"^[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_" + re.escape(socket.gethostname()) + "$")
    runs = sorted(os.listdir(os.path.join(out, "runs")))
    assert len(runs) == 2, f"expected one directory per run in {out}/runs, found {runs}"
    for run in runs:
        assert pattern.match(run), f"run directory {run!r} is not <Mon><DD>_<HH>-<MM>-<SS>_<host>"

    # The second run's log (the first was truncated away when it started afresh).
    expected = {}
    with open(os.path.join(out, "trainer_log.jsonl")) as lines:
        for line in lines:
            record = json.loads(line)
            step = record.pop("step")
            if "loss" in record:
                expected.setdefault("train/loss", []).append((step, record["loss"]))
                expected.setdefault("train/learning_rate", []).append((step, record["learning_rate"]))
            if "eval_f1" in record:
                expected.setdefault("eval/f1", []).append((step, record["eval_f1"]))
    assert [s for s, _ in expected["train/loss"]] == [2, 4, 6], expected["train/loss"]
    assert [s for s, _ in expected["eval/f1"]] == [3, 6], expected["eval/f1"]

    checked = 0
    for run in runs:
        accumulator = event_accumulator.EventAccumulator(os.path.join(out, "runs", run),
                                                         size_guidance={event_accumulator.SCALARS: 0})
        accumulator.Reload()
        tags = set(accumulator.Tags()["scalars"])
        for tag in ("train/loss", "train/learning_rate", "train/grad_norm", "train/epoch", "eval/exact_match",
                    "eval/f1"):
            assert tag in tags, f"{run}: TensorBoard finds no {tag} (tags: {sorted(tags)})"
        for tag in ("train/loss", "eval/f1"):
            steps = [event.step for event in accumulator.Scalars(tag)]
            assert steps == [s for s, _ in expected[tag]], (run, tag, steps)
        if run == runs[-1]:
            for tag, points in expected.items():
                got = [(event.step, event.value) for event in accumulator.Scalars(tag)]
                assert got == [(step, as_float32(value)) for step, value in points], (tag, got, points)
                checked += len(points)
    print(f"TensorBoard reads 2 runs in {out}/runs ({', '.join(runs)}); {checked} scalars of the second equal "
          "trainer_log.jsonl")


if __name__ == "__main__":
    main()
