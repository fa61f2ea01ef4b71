"""Kubeflow Pipelines (v2 SDK) pipeline: fetch inputs -> prepare windows -> train (MPIJob) -> evaluate.

The shape of the original notebook's pipeline (download/prepare data, train, evaluate), with
this project's apps doing the work:

1. fetch_inputs: puts SQuAD v1.1 (train and dev, checked against their published sha256) and
   the bert-base-uncased files on the data volume, skipping what is already there.
2. prepare_windows: prepare_squad tokenizes the training set into the binary window cache
   that train_squad reads with --train_cache_file (so the 16 ranks do not each re-tokenize).
3. train_mpijob: submits deploy/kubeflow/mpijob-train-squad.yaml (read when this file is
   compiled, so the manifest stays the one source of truth) with this run's image, job name
   and output directory, and waits for the MPIJob to finish. train_squad --do_eval writes
   predictions.json into the output directory.
4. evaluate: eval_squad scores predictions.json with the official SQuAD v1.1 metric and keeps
   the {"exact_match", "f1"} line as the step's output.

Compile (needs `pip install kfp kfp-kubernetes`; nothing in the project's CI imports kfp):
    BERT_IMAGE=<registry>/bert-squad:<tag> python3 deploy/kubeflow/pipeline.py
writes bert_squad_pipeline.yaml next to this file, for the Kubeflow Pipelines UI or
kfp.Client().create_run_from_pipeline_package(). The PersistentVolumeClaims come from
storage.yaml; the pipeline's service account needs RBAC to create and get mpijobs
(deploy/README.md).
"""
import os

from kfp import compiler, dsl
from kfp import kubernetes  # the kfp-kubernetes package

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST_PATH = os.path.join(HERE, "mpijob-train-squad.yaml")

# Container components name their image at compile time.
IMAGE = os.environ.get("BERT_IMAGE", "registry.example.com/bert-squad:latest")
BIN = "/opt/bert/bin"
# The claims of storage.yaml; the MPIJob manifest mounts the same two.
DATA_PVC = "bert-squad-data"
OUTPUT_PVC = "bert-squad-output"
DATA_MOUNT = "/data"
OUTPUT_MOUNT = "/output"


def _read_manifest():
    with open(MANIFEST_PATH, encoding="utf-8") as f:
        return f.read()


@dsl.component(base_image="python:3.12-slim")
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
    for name in ("config.json", "vocab.txt", "model.safetensors"):
        fetch(f"{model_base_url}/{name}", os.path.join(data_root, "bert-base-uncased", name))
    os.makedirs(os.path.join(data_root, "cache"), exist_ok=True)


@dsl.container_component
def prepare_windows(vocab_file: str, input_file: str, cache_file: str, max_seq_length: int,
                    doc_stride: int):
    """prepare_squad: SQuAD JSON -> binary window cache for train_squad --train_cache_file."""
    return dsl.ContainerSpec(
        image=IMAGE,
        command=[f"{BIN}/prepare_squad"],
        args=[
            "--vocab_file", vocab_file,
            "--input_file", input_file,
            "--max_seq_length", max_seq_length,
            "--doc_stride", doc_stride,
            "--cache_file", cache_file,
        ],
    )


@dsl.component(base_image="python:3.12-slim", packages_to_install=["kubernetes>=28", "PyYAML>=6"])
def train_mpijob(manifest: str, image: str, run_id: str, output_root: str, train_cache_file: str,
                 timeout_hours: float) -> str:
    """Runs train_squad as the MPIJob of `manifest`; returns the run's output directory."""
    import re
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
    specs = job["spec"]["mpiReplicaSpecs"]
    for role in ("Launcher", "Worker"):
        for container in specs[role]["template"]["spec"]["containers"]:
            container["image"] = image
    # The launcher's script reads both (see the manifest).
    overrides = {"OUTPUT_DIR": output_dir, "EXTRA_TRAIN_ARGS": f"--train_cache_file {train_cache_file}"}
    launcher = specs["Launcher"]["template"]["spec"]["containers"][0]
    env = [e for e in launcher.get("env", []) if e["name"] not in overrides]
    launcher["env"] = env + [{"name": k, "value": v} for k, v in overrides.items()]

    api = client.CustomObjectsApi()
    group, version, plural = "kubeflow.org", "v2beta1", "mpijobs"
    api.create_namespaced_custom_object(group, version, namespace, plural, job)
    print(f"created MPIJob {namespace}/{name}; output in {output_dir}")

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
            raise RuntimeError(f"MPIJob {name} still running after {timeout_hours} h; left running")
        time.sleep(30)


@dsl.container_component
def evaluate(validation_file: str, run_dir: str, scores: dsl.OutputPath(str)):
    """eval_squad (metric mode): the official SQuAD v1.1 EM/F1 of the run's predictions.json."""
    return dsl.ContainerSpec(
        image=IMAGE,
        command=[
            "/bin/bash", "-c",
            'set -euo pipefail; mkdir -p "$(dirname "$3")"; '
            '"$0" --validation_file "$1" --predictions_file "$2/predictions.json" | tee "$3"',
            f"{BIN}/eval_squad",
        ],
        args=[validation_file, run_dir, scores],
    )


@dsl.pipeline(
    name="bert-squad-finetune",
    description="SQuAD v1.1 fine-tuning of bert-base-uncased with the C++/CUDA engine: "
                "fetch -> prepare windows -> 2x8-GPU MPIJob -> evaluate.",
)
def bert_squad_pipeline(
    squad_base_url: str = "https://rajpurkar.github.io/SQuAD-explorer/dataset",
    model_base_url: str = "https://huggingface.co/google-bert/bert-base-uncased/resolve/main",
    max_seq_length: int = 384,
    doc_stride: int = 128,
    timeout_hours: float = 4.0,
    manifest: str = _read_manifest(),
):
    squad_dir = f"{DATA_MOUNT}/squad"
    model_dir = f"{DATA_MOUNT}/bert-base-uncased"
    cache_file = f"{DATA_MOUNT}/cache/train-v1.1.windows.bin"

    fetch = fetch_inputs(data_root=DATA_MOUNT, squad_base_url=squad_base_url,
                         model_base_url=model_base_url)
    kubernetes.mount_pvc(fetch, pvc_name=DATA_PVC, mount_path=DATA_MOUNT)

    prepare = prepare_windows(vocab_file=f"{model_dir}/vocab.txt",
                              input_file=f"{squad_dir}/train-v1.1.json", cache_file=cache_file,
                              max_seq_length=max_seq_length, doc_stride=doc_stride).after(fetch)
    kubernetes.mount_pvc(prepare, pvc_name=DATA_PVC, mount_path=DATA_MOUNT)

    # The MPIJob's pods mount the volumes themselves (the manifest); this step only talks to
    # the Kubernetes API. Never cached: a cached "success" would skip the training.
    train = train_mpijob(manifest=manifest, image=IMAGE, run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                         output_root=OUTPUT_MOUNT, train_cache_file=cache_file,
                         timeout_hours=timeout_hours).after(prepare)
    train.set_caching_options(False)

    scores = evaluate(validation_file=f"{squad_dir}/dev-v1.1.json", run_dir=train.output)
    kubernetes.mount_pvc(scores, pvc_name=DATA_PVC, mount_path=DATA_MOUNT)
    kubernetes.mount_pvc(scores, pvc_name=OUTPUT_PVC, mount_path=OUTPUT_MOUNT)


if __name__ == "__main__":
    package = os.path.join(HERE, "bert_squad_pipeline.yaml")
    compiler.Compiler().compile(pipeline_func=bert_squad_pipeline, package_path=package)
    print(f"wrote {package} (image {IMAGE})")
