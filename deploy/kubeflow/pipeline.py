"""Kubeflow Pipelines (v2 SDK) pipeline: fetch inputs -> prepare windows -> train (MPIJob) -> evaluate.

The shape of the original notebook's pipeline (download/prepare data, train, evaluate), with
this project's apps doing the work:

1. fetch_inputs: puts SQuAD v1.1 (train and dev, checked against their published sha256) and
   the bert-base-uncased files on the data volume, skipping what is already there.
2. prepare_windows: prepare_squad tokenizes the training set into a binary window cache named
   after max_seq_length and doc_stride, and returns its path; train_squad reads it with
   --train_cache_file (so the 16 ranks do not each re-tokenize). The same two values reach
   the MPIJob, so the cache always matches the job.
3. train_mpijob: submits deploy/kubeflow/mpijob-train-squad.yaml (read when this file is
   compiled, so the manifest stays the one source of truth) with this run's image, a per-run
   name and output directory, a label naming the run, activeDeadlineSeconds = timeout_hours,
   and the run's hyperparameters appended to train_squad's flags (the last occurrence of a
   flag wins); waits for the MPIJob to finish. train_squad --do_eval writes
   eval_predictions.json into the output directory.
4. evaluate: eval_squad scores eval_predictions.json with the official SQuAD v1.1 metric;
   report_metrics turns its {"exact_match", "f1"} line into a Metrics artifact (the run's
   "Metrics" tab in the Kubeflow UI).
An exit handler (delete_mpijob_unless_succeeded) runs whatever happens to the steps inside it:
when the run failed, was cancelled or timed out it deletes the run's MPIJob (found by its
label), so 16 GPUs are never left training for nobody. train_mpijob itself also deletes the
job when it times out or its pod is terminated.

Compile (needs `pip install kfp==2.17.0 kfp-kubernetes==2.17.0`):
    BERT_IMAGE=<registry>/bert-squad:<tag> python3 deploy/kubeflow/pipeline.py [OUTPUT.yaml]
writes bert_squad_pipeline.yaml next to this file (or OUTPUT.yaml), for the Kubeflow Pipelines
UI or kfp.Client().create_run_from_pipeline_package(). BERT_IMAGE only sets the default of the
`image` parameter. The PersistentVolumeClaims come from storage.yaml; the pipeline's service
account needs RBAC to create, get, list and delete mpijobs (deploy/README.md).
tests/deploy/check_pipeline.py compiles it, loads the YAML back with kfp's loader and runs the
MPIJob steps against a fake Kubernetes API.
"""
import os
import sys

from kfp import compiler, dsl
from kfp import kubernetes  # the kfp-kubernetes package

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST_PATH = os.path.join(HERE, "mpijob-train-squad.yaml")

# The default of the pipeline's `image` parameter.
IMAGE = os.environ.get("BERT_IMAGE", "registry.example.com/bert-squad:latest")
PYTHON_IMAGE = "python:3.12-slim"
K8S_PACKAGES = ["kubernetes>=28", "PyYAML>=6"]
BIN = "/opt/bert/bin"
# The claims of storage.yaml; the MPIJob manifest mounts the same two.
DATA_PVC = "bert-squad-data"
OUTPUT_PVC = "bert-squad-output"
DATA_MOUNT = "/data"
OUTPUT_MOUNT = "/output"
# The label that ties an MPIJob to the pipeline run that created it (the exit handler deletes
# by it, so it needs no output of the steps it guards).
RUN_LABEL = "bert-squad.kubeflow.org/pipeline-run"


def _read_manifest():
    with open(MANIFEST_PATH, encoding="utf-8") as f:
        return f.read()


# The manifest is a constant input of the training task, not a pipeline parameter: kfp copies
# parameter defaults into a comment at the top of the compiled YAML, and a multi-line default
# breaks out of that comment (the file then no longer loads).
MANIFEST = _read_manifest()


@dsl.component(base_image=PYTHON_IMAGE)
def fetch_inputs(data_root: str, squad_base_url: str, model_base_url: str):
    """Downloads what the data volume lacks; verifies SQuAD against its published sha256."""
    import hashlib
    import os
    import urllib.request

    squad_sha256 = {
        "train-v1.1.json": "3527663986b8295af4f7fcdff1ba1ff3f72d07d61a20f487cb238a6ef92fd955",
        "dev-v1.1.json": "95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9",
    }

    def sha256_of(path):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def fetch(url, path):
        if os.path.exists(path) and os.path.getsize(path) > 0:
            print(f"have {path}")
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = path + ".partial"
        print(f"fetching {url} -> {path}")
        urllib.request.urlretrieve(url, partial)
        os.replace(partial, path)

    for name, expected in squad_sha256.items():
        path = os.path.join(data_root, "squad", name)
        fetch(f"{squad_base_url}/{name}", path)
        actual = sha256_of(path)
        if actual != expected:
            raise RuntimeError(f"{path}: sha256 {actual}, expected {expected} (SQuAD v1.1 {name})")
    # No published checksums to pin here: the model loader checks shapes and names instead.
    # tokenizer_config.json decides lower-casing for prepare_squad and train_squad alike.
    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors"):
        fetch(f"{model_base_url}/{name}", os.path.join(data_root, "bert-base-uncased", name))
    os.makedirs(os.path.join(data_root, "cache"), exist_ok=True)


@dsl.container_component
def prepare_windows(vocab_file: str, input_file: str, cache_dir: str, max_seq_length: int, doc_stride: int,
                    cache_file: dsl.OutputPath(str)):
    """prepare_squad: SQuAD JSON -> binary window cache for train_squad --train_cache_file,
    named after the window settings; its path is the step's output."""
    return dsl.ContainerSpec(
        image=IMAGE,  # replaced by the `image` pipeline parameter (set_container_image)
        command=[
            "/bin/bash", "-c",
            'set -euo pipefail; '
            'cache="$3/$(basename "$2" .json).seq$4-stride$5.windows.bin"; '
            '"$0" --vocab_file "$1" --input_file "$2" --max_seq_length "$4" --doc_stride "$5" '
            '--cache_file "$cache"; '
            'mkdir -p "$(dirname "$6")"; printf "%s" "$cache" > "$6"',
            f"{BIN}/prepare_squad",
        ],
        args=[vocab_file, input_file, cache_dir, max_seq_length, doc_stride, cache_file],
    )


@dsl.component(base_image=PYTHON_IMAGE, packages_to_install=K8S_PACKAGES)
def train_mpijob(manifest: str, image: str, run_id: str, run_label: str, output_root: str,
                 train_cache_file: str, max_seq_length: int, doc_stride: int, learning_rate: float,
                 num_train_epochs: float, per_device_train_batch_size: int, warmup_ratio: float,
                 lr_scheduler_type: str, seed: int, logging_steps: int, save_steps: int,
                 timeout_hours: float, poll_seconds: float = 30.0) -> str:
    """Runs train_squad as the MPIJob of `manifest` with this run's settings; returns the run's
    output directory. Deletes the MPIJob when it times out or this step is terminated."""
    import re
    import signal
    import time

    import yaml
    from kubernetes import client, config

    config.load_incluster_config()
    with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace", encoding="utf-8") as f:
        namespace = f.read().strip()

    job = yaml.safe_load(manifest)
    suffix = re.sub(r"[^a-z0-9]", "", run_id.lower())[:8] or str(int(time.time()))
    name = f"{job['metadata']['name']}-{suffix}"
    output_dir = f"{output_root.rstrip('/')}/{name}"
    job["metadata"]["name"] = name
    job["metadata"]["namespace"] = namespace
    job["metadata"].setdefault("labels", {})[run_label] = re.sub(r"[^A-Za-z0-9._-]", "-", run_id)[:63]
    job["spec"].setdefault("runPolicy", {})["activeDeadlineSeconds"] = max(60, int(timeout_hours * 3600))
    specs = job["spec"]["mpiReplicaSpecs"]
    for role in ("Launcher", "Worker"):
        for container in specs[role]["template"]["spec"]["containers"]:
            container["image"] = image
    # Appended after the manifest's flags: train_squad takes the last occurrence of a flag.
    train_args = [
        "--train_cache_file", train_cache_file,
        "--max_seq_length", str(max_seq_length), "--doc_stride", str(doc_stride),
        "--learning_rate", repr(float(learning_rate)), "--num_train_epochs", repr(float(num_train_epochs)),
        "--per_device_train_batch_size", str(per_device_train_batch_size),
        "--warmup_ratio", repr(float(warmup_ratio)), "--lr_scheduler_type", lr_scheduler_type,
        "--seed", str(seed), "--logging_steps", str(logging_steps), "--save_steps", str(save_steps),
    ]
    for value in train_args:
        if not re.fullmatch(r"[A-Za-z0-9_./:+=-]+", value):
            raise ValueError(f"train_mpijob: {value!r} cannot be passed through EXTRA_TRAIN_ARGS (unquoted)")
    # The launcher's script reads both (see the manifest).
    overrides = {"OUTPUT_DIR": output_dir, "EXTRA_TRAIN_ARGS": " ".join(train_args)}
    launcher = specs["Launcher"]["template"]["spec"]["containers"][0]
    env = [e for e in launcher.get("env", []) if e["name"] not in overrides]
    launcher["env"] = env + [{"name": k, "value": v} for k, v in overrides.items()]

    api = client.CustomObjectsApi()
    group, version, plural = "kubeflow.org", "v2beta1", "mpijobs"

    def delete_job(why):
        print(f"deleting MPIJob {namespace}/{name}: {why}")
        try:
            api.delete_namespaced_custom_object(group, version, namespace, plural, name,
                                                body={"propagationPolicy": "Foreground"})
        except Exception as error:  # already gone, or no permission: the exit handler tries again
            print(f"could not delete MPIJob {name}: {error}")

    def on_terminate(signum, _frame):
        delete_job(f"this step received signal {signum} (run cancelled or timed out)")
        raise SystemExit(128 + signum)

    api.create_namespaced_custom_object(group, version, namespace, plural, job)
    signal.signal(signal.SIGTERM, on_terminate)
    print(f"created MPIJob {namespace}/{name}; output in {output_dir}; train_squad flags appended: "
          f"{' '.join(train_args)}")

    deadline = time.time() + timeout_hours * 3600.0
    while True:
        status = api.get_namespaced_custom_object(group, version, namespace, plural, name).get("status", {})
        conditions = {c["type"]: c for c in status.get("conditions", []) if c.get("status") == "True"}
        if "Succeeded" in conditions:
            print(f"MPIJob {name} succeeded")
            return output_dir
        if "Failed" in conditions:
            raise RuntimeError(f"MPIJob {name} failed: {conditions['Failed'].get('message', '')} "
                               f"(kubectl logs {name}-launcher-...)")
        if time.time() > deadline:
            delete_job(f"still running after timeout_hours={timeout_hours}")
            raise RuntimeError(f"MPIJob {name} still running after {timeout_hours} h: deleted")
        time.sleep(poll_seconds)


@dsl.component(base_image=PYTHON_IMAGE, packages_to_install=K8S_PACKAGES)
def delete_mpijob_unless_succeeded(run_id: str, run_label: str, status: dsl.PipelineTaskFinalStatus):
    """Exit handler: unless the run succeeded, deletes the MPIJobs labelled with this run."""
    import re

    from kubernetes import client, config

    state = status.state
    if state == "SUCCEEDED":
        print("run succeeded: nothing to clean up (the finished MPIJob keeps its launcher logs)")
        return
    config.load_incluster_config()
    with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace", encoding="utf-8") as f:
        namespace = f.read().strip()
    selector = f"{run_label}={re.sub(r'[^A-Za-z0-9._-]', '-', run_id)[:63]}"
    print(f"run ended {state} ({status.error_message or 'no message'}): deleting MPIJobs with {selector}")
    client.CustomObjectsApi().delete_collection_namespaced_custom_object(
        "kubeflow.org", "v2beta1", namespace, "mpijobs", label_selector=selector,
        body={"propagationPolicy": "Foreground"})


@dsl.container_component
def evaluate(validation_file: str, run_dir: str, scores: dsl.OutputPath(str)):
    """eval_squad (metric mode): the official SQuAD v1.1 EM/F1 of the run's eval_predictions.json."""
    return dsl.ContainerSpec(
        image=IMAGE,  # replaced by the `image` pipeline parameter (set_container_image)
        command=[
            "/bin/bash", "-c",
            'set -euo pipefail; mkdir -p "$(dirname "$3")"; '
            '"$0" --validation_file "$1" --predictions_file "$2/eval_predictions.json" | tee "$3"',
            f"{BIN}/eval_squad",
        ],
        args=[validation_file, run_dir, scores],
    )


@dsl.component(base_image=PYTHON_IMAGE)
def report_metrics(scores: str, metrics: dsl.Output[dsl.Metrics]):
    """eval_squad's {"exact_match": X, "f1": Y} line as a Metrics artifact."""
    import json

    values = json.loads(scores)
    for key in ("exact_match", "f1"):
        metrics.log_metric(key, float(values[key]))
    print(f"exact_match {values['exact_match']}, f1 {values['f1']}")


@dsl.pipeline(
    name="bert-squad-finetune",
    description="SQuAD v1.1 fine-tuning of bert-base-uncased with the C++/CUDA engine: "
                "fetch -> prepare windows -> 2x8-GPU MPIJob -> evaluate.",
)
def bert_squad_pipeline(
    image: str = IMAGE,
    learning_rate: float = 3e-5,
    num_train_epochs: float = 2.0,
    per_device_train_batch_size: int = 32,
    warmup_ratio: float = 0.1,
    lr_scheduler_type: str = "linear",
    seed: int = 42,
    max_seq_length: int = 384,
    doc_stride: int = 128,
    logging_steps: int = 10,
    save_steps: int = 25,
    timeout_hours: float = 4.0,
    squad_base_url: str = "https://rajpurkar.github.io/SQuAD-explorer/dataset",
    model_base_url: str = "https://huggingface.co/google-bert/bert-base-uncased/resolve/main",
):
    squad_dir = f"{DATA_MOUNT}/squad"
    model_dir = f"{DATA_MOUNT}/bert-base-uncased"

    cleanup = delete_mpijob_unless_succeeded(run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, run_label=RUN_LABEL)
    with dsl.ExitHandler(cleanup, name="delete-mpijob-unless-succeeded"):
        fetch = fetch_inputs(data_root=DATA_MOUNT, squad_base_url=squad_base_url,
                             model_base_url=model_base_url)
        kubernetes.mount_pvc(fetch, pvc_name=DATA_PVC, mount_path=DATA_MOUNT)
        # Never from KFP's cache: a cached success would skip the download into a volume emptied
        # since (the step itself checks what is there and fetches only what is missing).
        fetch.set_caching_options(False)

        prepare = prepare_windows(vocab_file=f"{model_dir}/vocab.txt",
                                  input_file=f"{squad_dir}/train-v1.1.json", cache_dir=f"{DATA_MOUNT}/cache",
                                  max_seq_length=max_seq_length, doc_stride=doc_stride).after(fetch)
        prepare.set_container_image(image)
        kubernetes.mount_pvc(prepare, pvc_name=DATA_PVC, mount_path=DATA_MOUNT)

        # The MPIJob's pods mount the volumes themselves (the manifest); this step only talks to
        # the Kubernetes API. Never cached: a cached "success" would skip the training.
        train = train_mpijob(manifest=MANIFEST, image=image, run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                             run_label=RUN_LABEL, output_root=OUTPUT_MOUNT,
                             train_cache_file=prepare.outputs["cache_file"], max_seq_length=max_seq_length,
                             doc_stride=doc_stride, learning_rate=learning_rate, num_train_epochs=num_train_epochs,
                             per_device_train_batch_size=per_device_train_batch_size, warmup_ratio=warmup_ratio,
                             lr_scheduler_type=lr_scheduler_type, seed=seed, logging_steps=logging_steps,
                             save_steps=save_steps, timeout_hours=timeout_hours)
        train.set_caching_options(False)

        scores = evaluate(validation_file=f"{squad_dir}/dev-v1.1.json", run_dir=train.output)
        scores.set_container_image(image)
        scores.set_caching_options(False)
        kubernetes.mount_pvc(scores, pvc_name=DATA_PVC, mount_path=DATA_MOUNT)
        kubernetes.mount_pvc(scores, pvc_name=OUTPUT_PVC, mount_path=OUTPUT_MOUNT)

        report_metrics(scores=scores.outputs["scores"])


if __name__ == "__main__":
    package = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "bert_squad_pipeline.yaml")
    compiler.Compiler().compile(pipeline_func=bert_squad_pipeline, package_path=package)
    print(f"wrote {package} (default image {IMAGE})")
