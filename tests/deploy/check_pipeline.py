#!/usr/bin/env python3
"""Compiles deploy/kubeflow/pipeline.py with kfp, loads the compiled YAML back with kfp's own
loader (and PyYAML), checks what reaches each step, and runs the MPIJob steps' Python code
against a fake Kubernetes API.

    check_pipeline.py <pipeline.py> <scratch dir>

Checks (each failure printed as "FAIL <what>", exit status 1):
- the compiled package loads with kfp.components.load_component_from_file and yaml.safe_load_all
  (the bug of a multi-line parameter default that broke out of kfp's header comment);
- image, learning_rate, num_train_epochs, per_device_train_batch_size, warmup_ratio,
  lr_scheduler_type, seed, max_seq_length, doc_stride, logging_steps, save_steps are pipeline
  parameters; max_seq_length / doc_stride reach both prepare-windows and train-mpijob, the
  cache file train-mpijob gets is prepare-windows' output, the container steps run the
  `image` parameter;
- the EM/F1 step outputs a system.Metrics artifact; an exit handler guards the steps;
- train_mpijob submits an MPIJob with the image, the run label, activeDeadlineSeconds and the
  hyperparameters appended to train_squad's flags; raises on Failed; deletes the job on
  timeout and on SIGTERM; the exit handler deletes the run's MPIJobs unless the run succeeded;
  report_metrics logs exact_match and f1.
Exits 77 (ctest SKIP_RETURN_CODE) when kfp / kfp-kubernetes are not importable (CI installs them).
"""
import builtins
import importlib.util
import io
import os
import shutil
import signal
import sys
import types

try:
    import kfp
    from kfp import components, dsl
    from kfp import kubernetes  # noqa: F401  (the pipeline needs it)
    import yaml
except ImportError as error:
    print(f"SKIPPED Kubeflow pipeline check: cannot import kfp / kfp-kubernetes / yaml ({error})")
    sys.exit(77)

sys.dont_write_bytecode = True
FAILURES = []
HYPERPARAMETERS = ["image", "learning_rate", "num_train_epochs", "per_device_train_batch_size", "warmup_ratio",
                   "lr_scheduler_type", "seed", "max_seq_length", "doc_stride", "logging_steps", "save_steps"]


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        FAILURES.append(what)
    return condition


def load_pipeline_module(path):
    spec = importlib.util.spec_from_file_location("bert_squad_pipeline_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def task_inputs(dag, task):
    return (dag["tasks"][task].get("inputs") or {}).get("parameters") or {}


def check_compiled(module, package):
    kfp.compiler.Compiler().compile(pipeline_func=module.bert_squad_pipeline, package_path=package)
    try:
        components.load_component_from_file(package)
        check(True, f"kfp {kfp.__version__} loads the compiled pipeline")
    except Exception as error:  # ruamel's ScannerError on the broken header, among others
        check(False, f"kfp's loader cannot read the compiled pipeline: {type(error).__name__}: {error}")
        return
    with open(package, encoding="utf-8") as f:
        spec = next(d for d in yaml.safe_load_all(f) if "root" in d)
    root_params = spec["root"]["inputDefinitions"]["parameters"]
    for name in HYPERPARAMETERS:
        check(name in root_params, f"'{name}' is a pipeline parameter")

    # The guarded steps sit in the exit handler's sub-DAG.
    root_dag = spec["root"]["dag"]
    exit_tasks = [name for name, task in root_dag["tasks"].items()
                  if (task.get("triggerPolicy") or {}).get("strategy") == "ALL_UPSTREAM_TASKS_COMPLETED"]
    check(exit_tasks == ["delete-mpijob-unless-succeeded"],
          f"an exit handler task deletes the MPIJob (found {exit_tasks})")
    groups = [task["componentRef"]["name"] for task in root_dag["tasks"].values()
              if task["componentRef"]["name"].startswith("comp-exit-handler")]
    if not check(len(groups) == 1, "the steps run inside one exit-handler group"):
        return
    dag = spec["components"][groups[0]]["dag"]
    for task in ("prepare-windows", "train-mpijob"):
        for name in ("max_seq_length", "doc_stride"):
            source = task_inputs(dag, task).get(name, {}).get("componentInputParameter", "")
            check(source.endswith(name), f"{task} gets {name} from the pipeline parameter (got {source!r})")
    for name in HYPERPARAMETERS:
        source = task_inputs(dag, "train-mpijob").get(name, {}).get("componentInputParameter", "")
        check(source.endswith(name), f"train-mpijob gets {name} from the pipeline parameter (got {source!r})")
    cache = task_inputs(dag, "train-mpijob").get("train_cache_file", {}).get("taskOutputParameter", {})
    check(cache.get("producerTask") == "prepare-windows" and cache.get("outputParameterKey") == "cache_file",
          f"train-mpijob's --train_cache_file is prepare-windows' output ({cache})")
    executors = spec["deploymentSpec"]["executors"]
    for executor in ("exec-prepare-windows", "exec-evaluate"):
        image = executors[executor]["container"]["image"]
        check("image" in image and "{{" in image, f"{executor} runs the `image` parameter ({image})")
    metrics = spec["components"]["comp-report-metrics"]["outputDefinitions"]["artifacts"]["metrics"]
    check(metrics["artifactType"]["schemaTitle"] == "system.Metrics", "EM/F1 are a system.Metrics artifact")


class FakeCustomObjects:
    """The kubernetes.client.CustomObjectsApi calls the components make."""

    def __init__(self, conditions):
        self.conditions = list(conditions)  # returned in turn by get (the last one repeats)
        self.created, self.deleted, self.collections = [], [], []

    def create_namespaced_custom_object(self, group, version, namespace, plural, body):
        self.created.append((group, version, namespace, plural, body))

    def get_namespaced_custom_object(self, group, version, namespace, plural, name):
        condition = self.conditions.pop(0) if len(self.conditions) > 1 else self.conditions[0]
        if condition == "SIGTERM":
            os.kill(os.getpid(), signal.SIGTERM)
            condition = None
        return {"status": {"conditions": [{"type": condition, "status": "True", "message": "boom"}]
                           if condition else []}}

    def delete_namespaced_custom_object(self, group, version, namespace, plural, name, body=None):
        self.deleted.append(name)

    def delete_collection_namespaced_custom_object(self, group, version, namespace, plural, label_selector="",
                                                   body=None):
        self.collections.append((namespace, plural, label_selector))


def with_fake_kubernetes(api, call):
    """Runs call() with a fake `kubernetes` package and the service account's namespace file."""
    fake = types.ModuleType("kubernetes")
    fake.client = types.SimpleNamespace(CustomObjectsApi=lambda: api)
    fake.config = types.SimpleNamespace(load_incluster_config=lambda: None)
    real_open = builtins.open

    def fake_open(path, *args, **kwargs):
        if str(path).startswith("/var/run/secrets/kubernetes.io/serviceaccount/namespace"):
            return io.StringIO("team-a")
        return real_open(path, *args, **kwargs)

    saved = {name: sys.modules.get(name) for name in ("kubernetes",)}
    sys.modules["kubernetes"] = fake
    builtins.open = fake_open
    previous_handler = signal.getsignal(signal.SIGTERM)
    try:
        return call()
    finally:
        builtins.open = real_open
        signal.signal(signal.SIGTERM, previous_handler)
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def train_arguments(module, **overrides):
    args = dict(manifest=module.MANIFEST, image="reg.example/bert:test", run_id="1b2c3d4e-aaaa-bbbb",
                run_label=module.RUN_LABEL, output_root="/output", train_cache_file="/data/cache/t.bin",
                max_seq_length=256, doc_stride=64, learning_rate=2e-05, num_train_epochs=3.0,
                per_device_train_batch_size=16, warmup_ratio=0.06, lr_scheduler_type="cosine", seed=7,
                logging_steps=5, save_steps=20, timeout_hours=1.0, poll_seconds=0.0)
    args.update(overrides)
    return args


def check_train_step(module):
    train = module.train_mpijob.python_func
    api = FakeCustomObjects(["", "Succeeded"])
    output_dir = with_fake_kubernetes(api, lambda: train(**train_arguments(module)))
    if not check(len(api.created) == 1, "train_mpijob creates one MPIJob"):
        return
    group, version, namespace, plural, job = api.created[0]
    check((group, version, plural, namespace) == ("kubeflow.org", "v2beta1", "mpijobs", "team-a"),
          "as a kubeflow.org/v2beta1 MPIJob in the pipeline's namespace")
    name = job["metadata"]["name"]
    check(name == "bert-squad-train-1b2c3d4e" and output_dir == "/output/" + name,
          f"named after the run, output in /output/<name> ({name}, {output_dir})")
    check(job["metadata"]["labels"].get(module.RUN_LABEL) == "1b2c3d4e-aaaa-bbbb", "labelled with the run id")
    check(job["spec"]["runPolicy"]["activeDeadlineSeconds"] == 3600, "activeDeadlineSeconds = timeout_hours")
    specs = job["spec"]["mpiReplicaSpecs"]
    images = {c["image"] for role in ("Launcher", "Worker") for c in specs[role]["template"]["spec"]["containers"]}
    check(images == {"reg.example/bert:test"}, f"every MPIJob container runs the image parameter ({images})")
    env = {e["name"]: e["value"] for e in specs["Launcher"]["template"]["spec"]["containers"][0]["env"]}
    extra = env.get("EXTRA_TRAIN_ARGS", "").split()
    expected = {"--max_seq_length": "256", "--doc_stride": "64", "--learning_rate": "2e-05",
                "--num_train_epochs": "3.0", "--per_device_train_batch_size": "16", "--warmup_ratio": "0.06",
                "--lr_scheduler_type": "cosine", "--seed": "7", "--logging_steps": "5", "--save_steps": "20",
                "--train_cache_file": "/data/cache/t.bin"}
    got = dict(zip(extra[0::2], extra[1::2]))
    check(got == expected, f"EXTRA_TRAIN_ARGS carries the run's settings ({env.get('EXTRA_TRAIN_ARGS')})")
    script = specs["Launcher"]["template"]["spec"]["containers"][0]["args"][-1]
    check(script.rstrip().endswith("${EXTRA_TRAIN_ARGS:-}"),
          "EXTRA_TRAIN_ARGS comes after every other train_squad flag (the last occurrence wins)")

    api = FakeCustomObjects(["Failed"])
    try:
        with_fake_kubernetes(api, lambda: train(**train_arguments(module)))
        check(False, "train_mpijob raises when the MPIJob failed")
    except RuntimeError as error:
        check("failed" in str(error), f"train_mpijob raises when the MPIJob failed ({error})")

    api = FakeCustomObjects([""])
    try:
        with_fake_kubernetes(api, lambda: train(**train_arguments(module, timeout_hours=1e-9)))
        check(False, "train_mpijob raises on timeout")
    except RuntimeError as error:
        check(api.deleted == ["bert-squad-train-1b2c3d4e"] and "deleted" in str(error),
              f"on timeout train_mpijob deletes the MPIJob and fails ({api.deleted}, {error})")

    api = FakeCustomObjects(["SIGTERM"])
    try:
        with_fake_kubernetes(api, lambda: train(**train_arguments(module)))
        check(False, "train_mpijob stops on SIGTERM")
    except SystemExit as stop:
        check(api.deleted == ["bert-squad-train-1b2c3d4e"] and stop.code == 128 + signal.SIGTERM,
              f"terminated (cancelled run), train_mpijob deletes the MPIJob ({api.deleted}, exit {stop.code})")


def check_cleanup_and_metrics(module, scratch):
    cleanup = module.delete_mpijob_unless_succeeded.python_func
    for state, expect_delete in (("FAILED", True), ("CANCELLED", True), ("SUCCEEDED", False)):
        status = dsl.PipelineTaskFinalStatus(state=state, pipeline_job_resource_name="runs/x",
                                             pipeline_task_name="exit", error_code=None, error_message=None)
        api = FakeCustomObjects([""])
        with_fake_kubernetes(api, lambda: cleanup(run_id="1b2c3d4e-aaaa-bbbb", run_label=module.RUN_LABEL,
                                                  status=status))
        want = [("team-a", "mpijobs", f"{module.RUN_LABEL}=1b2c3d4e-aaaa-bbbb")] if expect_delete else []
        check(api.collections == want, f"run {state}: the exit handler deletes {'the run' if want else 'nothing'}"
                                       f"'s MPIJobs ({api.collections})")
    metrics = dsl.Metrics(name="metrics", uri=os.path.join(scratch, "metrics"), metadata={})
    module.report_metrics.python_func(scores='{"exact_match": 80.5, "f1": 88.25}\n', metrics=metrics)
    check(metrics.metadata == {"exact_match": 80.5, "f1": 88.25}, f"report_metrics logs EM and F1 ({metrics.metadata})")


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} <pipeline.py> <scratch dir>", file=sys.stderr)
        return 2
    pipeline_path, scratch = argv[1], argv[2]
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    module = load_pipeline_module(pipeline_path)
    check_compiled(module, os.path.join(scratch, "bert_squad_pipeline.yaml"))
    check_train_step(module)
    check_cleanup_and_metrics(module, scratch)
    print(f"{len(FAILURES)} problem(s)" if FAILURES else "the pipeline compiles, loads and drives the MPIJob as intended")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
