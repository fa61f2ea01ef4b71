#!/usr/bin/env python3
"""GPU checks through the real train_squad binary (run on the device by run_checks.sh after
carry_env.sh has set BERT_CARRY_BIN, BERT_SHARED_DIR and LD_LIBRARY_PATH):

  resume   a run stopped after step 8 (--stop_after_steps) and resumed logs exactly the losses
           and gradient norms of an uninterrupted run and saves a byte-identical model;
  nccl     `mpirun -np 1 train_squad` (NCCL communicator, bucketed all-reduce on its stream)
           equals the plain run bit for bit;
  oom      a batch that cannot fit fails with exit 1 and a message suggesting a smaller
           --per_device_train_batch_size, and leaves no model behind;
  sizes    a model whose heads the CUDA kernels cannot run (2 of 128) is refused by train_squad
           and eval_squad with exit 1, one error naming config.json's num_attention_heads, before
           any window is prepared; a model of 4 heads of 26 (TinyBERT's head size: the generic
           attention kernels) trains for 4 steps with finite losses;
  speed    (with --bert_base_model, e.g. the model hf_parity.py saved) train_squad's windows/s
           on real dev windows (all lengths, shuffled, packed) at batch 32 and 64.

The model: a random BERT of hidden 256, 4 heads of 64, 2 layers, dropout 0.1 (dropout masks must
also replay exactly), bert-base-uncased's vocabulary, on the first SQuAD dev questions.
Prints one "APP: <check> PASS|FAIL <detail>" line per check; exit 0 when all pass.
"""
import argparse
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import time


def run(cmd, timeout):
    """(exit status, output, seconds); a command past its timeout is killed and reported as 124
    with what it printed, so one hung check (mpirun, say) does not stop the ones after it."""
    started = time.time()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        output = expired.output or ""
        if isinstance(output, bytes):
            output = output.decode("utf-8", "replace")
        return 124, output + "\n(timed out after %d s)\n" % timeout, time.time() - started
    return proc.returncode, proc.stdout, time.time() - started


# Timing fields of trainer_log.jsonl: they differ between any two runs.
TIMING_KEYS = re.compile(r"(_per_second|_runtime)$")


def log_lines(output_dir):
    """trainer_log.jsonl's dicts without their timing fields (the per-step windows_per_second,
    the closing line's train_runtime and train_*_per_second)."""
    with open(os.path.join(output_dir, "trainer_log.jsonl")) as f:
        return [{k: v for k, v in json.loads(line).items() if not TIMING_KEYS.search(k)}
                for line in f if line.strip()]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", default="/tmp/bert_app_checks")
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--timeout", type=int, default=120, help="seconds per train_squad run")
    p.add_argument("--mpirun", default=shutil.which("mpirun") or "mpirun")
    p.add_argument("--bert_base_model", default="", help="a bert-base model directory for the speed runs")
    p.add_argument("--speed_steps", type=int, default=60)
    args = p.parse_args()
    binary = os.path.join(os.environ["BERT_CARRY_BIN"], "train_squad")
    shared = os.environ["BERT_SHARED_DIR"]
    shutil.rmtree(args.work, ignore_errors=True)
    config = {"model_type": "bert", "vocab_size": 30522, "hidden_size": 256, "num_hidden_layers": 2,
              "num_attention_heads": 4, "intermediate_size": 1024, "max_position_embeddings": 512,
              "type_vocab_size": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
              "attention_probs_dropout_prob": 0.1, "layer_norm_eps": 1e-12, "initializer_range": 0.02}

    def model_dir(name, hidden, heads):
        """A model directory of `config` at this width and head count (FFN 4 × hidden)."""
        path = os.path.join(args.work, name)
        os.makedirs(path)
        with open(os.path.join(path, "config.json"), "w") as f:
            json.dump(dict(config, hidden_size=hidden, num_attention_heads=heads, intermediate_size=4 * hidden), f)
        shutil.copy(os.path.join(shared, "data/bert-base-uncased/vocab.txt"), path)
        return path

    model = model_dir("model", 256, 4)
    dev = os.path.join(shared, "data/squad/dev-v1.1.json")
    common = [binary, "--device", "cuda", "--model_name_or_path", model, "--train_file",
              dev, "--do_train", "--max_train_samples", "400",
              "--per_device_train_batch_size", "16", "--learning_rate", "1e-4", "--max_steps", str(args.steps),
              "--warmup_steps", "2", "--weight_decay", "0.01", "--logging_steps", "1", "--seed", "3",
              "--save_steps", str(args.steps // 2)]
    out = lambda name: ["--output_dir", os.path.join(args.work, name)]
    results = []

    def report(name, ok, detail):
        results.append(ok)
        print("APP: %s %s %s" % (name, "PASS" if ok else "FAIL", detail), flush=True)

    rc, text, secs = run(common + out("plain"), args.timeout)
    if rc != 0:
        report("plain run", False, "exit %d: %s" % (rc, text[-2000:]))
        return 1
    plain = os.path.join(args.work, "plain")
    print("plain run: %.1f s\n%s" % (secs, text[-600:]), flush=True)

    # resume
    rc1, t1, _ = run(common + out("resumed") + ["--stop_after_steps", str(args.steps // 2)], args.timeout)
    rc2, t2, _ = run(common + out("resumed"), args.timeout)
    resumed = os.path.join(args.work, "resumed")
    if rc1 != 0 or rc2 != 0:
        report("resume", False, "exits %d, %d: %s" % (rc1, rc2, (t1 + t2)[-2000:]))
    else:
        same_log = log_lines(resumed) == log_lines(plain)
        same_model = filecmp.cmp(os.path.join(resumed, "model.safetensors"), os.path.join(plain, "model.safetensors"),
                                 shallow=False)
        report("resume", same_log and same_model,
               "log lines identical: %s, model.safetensors identical: %s (%d steps, stopped at %d)" %
               (same_log, same_model, args.steps, args.steps // 2))
        if not same_log:
            for a, b in zip(log_lines(resumed), log_lines(plain)):
                if a != b:
                    print("  resumed: %s\n  plain:   %s" % (a, b))
                    break

    # mpirun -np 1 through NCCL
    rc, text, _ = run([args.mpirun, "--allow-run-as-root", "-np", "1"] + common + out("nccl"), args.timeout)
    nccl = os.path.join(args.work, "nccl")
    if rc != 0:
        report("nccl", False, "exit %d: %s" % (rc, text[-2000:]))
    else:
        said_nccl = "nccl" in text.lower()
        same_log = log_lines(nccl) == log_lines(plain)
        same_model = filecmp.cmp(os.path.join(nccl, "model.safetensors"), os.path.join(plain, "model.safetensors"),
                                 shallow=False)
        report("nccl", same_log and same_model,
               "mpirun -np 1: log identical to the plain run: %s, model identical: %s%s" %
               (same_log, same_model, "" if said_nccl else " (output does not mention nccl)"))

    # out of memory
    rc, text, _ = run([binary, "--device", "cuda", "--model_name_or_path", model, "--train_file",
                       dev, "--do_train", "--max_train_samples", "64",
                       "--per_device_train_batch_size", "100000", "--max_steps", "1"] + out("oom"), args.timeout)
    error = [line for line in text.splitlines() if line.startswith("error:")]
    ok = rc == 1 and len(error) == 1 and "out of memory" in error[0].lower() and \
        "--per_device_train_batch_size" in error[0] and \
        not os.path.exists(os.path.join(args.work, "oom", "model.safetensors"))
    report("oom", ok, "exit %d: %s" % (rc, error[0] if error else text[-500:]))

    # model sizes: refused up front where the kernels cannot run them, trained where they can
    wide = model_dir("model-heads-128", 256, 2)
    refusals = []
    for app, flags in (("train_squad", ["--train_file", dev, "--do_train", "--max_steps", "1"] + out("wide")),
                       ("eval_squad", ["--validation_file", dev, "--output_dir", os.path.join(args.work, "wide-eval")])):
        rc, text, _ = run([os.path.join(os.environ["BERT_CARRY_BIN"], app), "--device", "cuda",
                           "--model_name_or_path", wide] + flags, args.timeout)
        error = [line for line in text.splitlines() if line.startswith("error:")]
        ok = rc == 1 and len(error) == 1 and "config.json: num_attention_heads" in error[0] and \
            "head_dim 1 to 64" in error[0] and "windows" not in text
        refusals.append(ok)
        print("%s, heads of 128: exit %d: %s" % (app, rc, error[0] if error else text[-500:]), flush=True)
    narrow = model_dir("model-heads-26", 104, 4)
    rc, text, _ = run([binary, "--device", "cuda", "--model_name_or_path", narrow, "--train_file", dev, "--do_train",
                       "--max_train_samples", "64", "--per_device_train_batch_size", "16", "--max_steps", "4",
                       "--logging_steps", "1", "--save_steps", "0"] + out("heads-26"), args.timeout)
    losses = []
    if rc == 0:
        with open(os.path.join(args.work, "heads-26", "trainer_log.jsonl")) as f:
            losses = [json.loads(line).get("loss") for line in f if '"loss"' in line]
    trained = rc == 0 and len(losses) == 4 and all(isinstance(x, float) and x == x and abs(x) < 1e30 for x in losses)
    report("sizes", all(refusals) and trained,
           "heads of 128 refused by train_squad, eval_squad: %s; heads of 26 trained 4 steps: exit %d, losses %s%s" %
           (refusals, rc, losses, "" if rc == 0 else ": " + text[-1000:]))

    # speed on real windows: the median windows/s over the logging intervals after the first
    if args.bert_base_model and os.path.isdir(args.bert_base_model):
        # The same weights with bert-base-uncased's dropout (0.1 hidden and attention), as fine-tuning runs.
        dropout_model = os.path.join(args.work, "bert-base-dropout")
        os.makedirs(dropout_model)
        for entry in os.listdir(args.bert_base_model):
            if entry != "config.json":
                os.symlink(os.path.join(args.bert_base_model, entry), os.path.join(dropout_model, entry))
        with open(os.path.join(args.bert_base_model, "config.json")) as f:
            base_config = json.load(f)
        base_config["hidden_dropout_prob"] = base_config["attention_probs_dropout_prob"] = 0.1
        with open(os.path.join(dropout_model, "config.json"), "w") as f:
            json.dump(base_config, f)
        for batch, model_dir, dropout in ((32, args.bert_base_model, 0.0), (64, args.bert_base_model, 0.0),
                                          (32, dropout_model, 0.1), (64, dropout_model, 0.1)):
            name = "speed-%d-%g" % (batch, dropout)
            rc, text, secs = run([binary, "--device", "cuda", "--model_name_or_path", model_dir,
                                  "--train_file", dev, "--do_train",
                                  "--max_train_samples", str(batch * args.speed_steps), "--per_device_train_batch_size",
                                  str(batch), "--learning_rate", "3e-5", "--max_steps", str(args.speed_steps),
                                  "--logging_steps", "10", "--save_steps", "0"] + out(name), args.timeout)
            if rc != 0:
                report(name, False, "exit %d: %s" % (rc, text[-1500:]))
                continue
            rates = []
            with open(os.path.join(args.work, name, "trainer_log.jsonl")) as f:
                for line in f:
                    m = re.search(r'"windows_per_second": ([0-9.eE+-]+)', line)
                    if m:
                        rates.append(float(m.group(1)))
            steady = sorted(rates[1:]) or rates
            median = steady[len(steady) // 2] if steady else float("nan")
            with open(os.path.join(args.work, name, "train_results.json")) as f:
                overall = json.load(f).get("train_samples_per_second", float("nan"))  # windows/s
            print("SPEED: train_squad bert-base batch %d dropout %g: %.1f windows/s median over logging intervals, "
                  "%.1f over the run (%d steps, real dev windows)" % (batch, dropout, median, overall, args.speed_steps),
                  flush=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
