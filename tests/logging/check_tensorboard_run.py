#!/usr/bin/env python3
"""Reads what train_squad logs with TensorBoard's own reader (EventAccumulator), not ours:
two short runs into the same output_dir must each get their own runs/<Mon><DD>_<HH>-<MM>-<SS>_<host>
directory, as Hugging Face writes them, holding every number of every trainer_log.jsonl line under
the tag transformers' TensorBoardCallback gives it (eval_x -> eval/x, the rest train/<key>), at its
step and equal as float32 (logging steps, --eval_strategy steps, the final evaluation, the summary),
and the run's arguments and model config as texts (args/text_summary, model_config/text_summary).

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

    # The second run's log (the first was truncated away when it started afresh), each key under
    # transformers' rewrite_logs tag.
    def tag_of(key):
        for prefix in ("eval", "test"):
            if key.startswith(prefix + "_"):
                return prefix + "/" + key[len(prefix) + 1:]
        return "train/" + key

    expected = {}
    with open(os.path.join(out, "trainer_log.jsonl")) as lines:
        for line in lines:
            record = json.loads(line)
            step = record.pop("step")
            for key, value in record.items():
                expected.setdefault(tag_of(key), []).append((step, value))
    assert [s for s, _ in expected["train/loss"]] == [2, 4, 6], expected["train/loss"]
    # Steps 3 and 6 in training (the last step too, as DefaultFlowCallback asks), then the final
    # evaluation at 6; the summary line's numbers at 6.
    assert [s for s, _ in expected["eval/f1"]] == [3, 6, 6], expected["eval/f1"]
    for tag in ("eval/runtime", "eval/samples_per_second", "train/train_runtime", "train/total_flos",
                "train/train_loss"):
        assert tag in expected, (tag, sorted(expected))

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
            assert tags == set(expected), (sorted(tags), sorted(expected))
            texts = accumulator.PluginTagToContent("text")
            assert set(texts) == {"args/text_summary", "model_config/text_summary"}, texts
            args = json.loads(accumulator.Tensors("args/text_summary")[0].tensor_proto.string_val[0])
            assert args["output_dir"] == out and args["eval_steps"] == 3, args
            config = json.loads(accumulator.Tensors("model_config/text_summary")[0].tensor_proto.string_val[0])
            with open(os.path.join(out, "config.json")) as file:
                assert config == json.load(file), config
            for tag, points in expected.items():
                got = [(event.step, event.value) for event in accumulator.Scalars(tag)]
                assert got == [(step, as_float32(value)) for step, value in points], (tag, got, points)
                checked += len(points)
    print(f"TensorBoard reads 2 runs in {out}/runs ({', '.join(runs)}); {checked} scalars of the second equal "
          "trainer_log.jsonl")


if __name__ == "__main__":
    main()
