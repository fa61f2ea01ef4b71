"""The Kubeflow Trainer v2 half of check_manifests.py: deploy/kubeflow/trainjob-train-squad.yaml and
runtime-bert-squad-mpi.yaml (trainer.kubeflow.org/v1alpha1) against the image and the apps
(what is checked: check_manifests.py's docstring).
"""
import os
import re
import sys

sys.dont_write_bytecode = True  # run from the source tree: leave no __pycache__ there
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from manifest_support import (DOCKERFILE, EXPECTED_GPUS_PER_WORKER, EXPECTED_WORKERS, GPU,  # noqa: E402
                              check_claims_declared, check_launch_script, check_sshd_settings, claim_mounts,
                              conf_settings, container_script, int_or_none, load_yaml)

TRAINJOB = "deploy/kubeflow/trainjob-train-squad.yaml"
RUNTIME = "deploy/kubeflow/runtime-bert-squad-mpi.yaml"
SSHD_MPIUSER = "deploy/ssh/sshd-mpiuser.conf"
TRAINER_API = "trainer.kubeflow.org/v1alpha1"
# Env names Trainer's MPI plugin sets itself and refuses in a TrainJob.
TRAINER_RESERVED_ENV = {"OMPI_MCA_orte_default_hostfile", "OMPI_MCA_plm_rsh_args",
                        "OMPI_MCA_orte_keep_fqdn_hostnames", "OMPI_MCA_orte_set_default_slots"}


def one_document(src, rel, kinds, report):
    docs = load_yaml(src, rel, report)
    if docs is None:
        return None
    if len(docs) != 1 or not isinstance(docs[0], dict):
        report.fail(rel, f"expected one {' or '.join(kinds)} document, found {len(docs)} documents")
        return None
    doc = docs[0]
    if doc.get("apiVersion") != TRAINER_API:
        report.fail(rel, f"apiVersion is {doc.get('apiVersion')!r}, expected {TRAINER_API!r}")
    if doc.get("kind") not in kinds:
        report.fail(rel, f"kind is {doc.get('kind')!r}, expected {' or '.join(kinds)}")
    return doc


def image_user(src):
    """(uid, home) of the image's mpiuser, and where the Dockerfile installs sshd-mpiuser.conf."""
    code = src.read(DOCKERFILE)
    uid = re.search(r"useradd\b[^\n]*--uid\s+(\d+)[^\n]*\bmpiuser\b", code)
    conf = re.search(r"^COPY\s+(?:--\S+\s+)*" + re.escape(SSHD_MPIUSER) + r"\s+(\S+)", code, re.M)
    return (int(uid.group(1)) if uid else None), (conf.group(1) if conf else None)


def replicated_jobs(runtime):
    jobs = ((((runtime.get("spec") or {}).get("template") or {}).get("spec") or {}).get("replicatedJobs")) or []
    return {j.get("name"): j for j in jobs if isinstance(j, dict)}


def job_pod(job):
    return (((job.get("template") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}


def check_runtime(src, report):
    """The runtime's name and kind, and {claim: mount paths}."""
    runtime = one_document(src, RUNTIME, ("ClusterTrainingRuntime", "TrainingRuntime"), report)
    if runtime is None:
        return None, {}
    mpi = (((runtime.get("spec") or {}).get("mlPolicy")) or {}).get("mpi") or {}
    if mpi.get("mpiImplementation") != "OpenMPI":
        report.fail(RUNTIME, f"mlPolicy.mpi.mpiImplementation is {mpi.get('mpiImplementation')!r}, expected "
                             "OpenMPI (the image's mpirun)")
    jobs = replicated_jobs(runtime)
    for name in ("node", "launcher"):
        if name not in jobs:
            report.fail(RUNTIME, f"has no replicated job named {name} (Trainer's MPI plugin needs node and launcher)")
    launcher = jobs.get("launcher") or {}
    labels = ((launcher.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if labels.get("trainer.kubeflow.org/trainjob-ancestor-step") != "trainer":
        report.fail(RUNTIME, "the launcher job lacks the label trainer.kubeflow.org/trainjob-ancestor-step: trainer "
                             "(the TrainJob's trainer would apply nowhere)")
    if {"name": "node", "status": "Ready"} not in (launcher.get("dependsOn") or []):
        report.fail(RUNTIME, "the launcher does not wait for the node job to be Ready (dependsOn node Ready)")
    uid, sshd_conf_path = image_user(src)
    sshd = conf_settings(src.read(SSHD_MPIUSER))
    nodes = [(f"{RUNTIME} (node container {c.get('name')})", c) for c in job_pod(jobs.get("node") or {}).get("containers") or []]
    check_sshd_settings(SSHD_MPIUSER, sshd, mpi.get("sshAuthMountPath", ""), nodes, RUNTIME, report, probe_required=True)
    for name, job in jobs.items():
        pod = job_pod(job)
        for c in pod.get("containers") or []:
            where = f"{RUNTIME} ({name} container {c.get('name')})"
            if c.get("name") != "node":
                report.fail(where, "is not named node: Trainer mounts the SSH keys and hostfile only into node")
            run_as = (c.get("securityContext") or {}).get("runAsUser")
            if run_as != uid:
                report.fail(where, f"runs as uid {run_as}, but the image's mpiuser (whose sshd config, home and "
                                   f"keys it uses) is uid {uid}")
            if name == "launcher" and c.get("command"):
                report.fail(where, "has a command: the image's entrypoint must run (it waits for the hostfile's hosts)")
            if name == "node":
                check_runtime_sshd(c, sshd_conf_path, where, report)
    mounts = claim_mounts([job_pod(j) for j in jobs.values()])
    check_claims_declared(src, set(mounts), report, RUNTIME)
    return runtime, mounts


def check_runtime_sshd(container, conf_path, where, report):
    argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    if not argv or os.path.basename(argv[0]) != "sshd":
        report.fail(where, f"runs {' '.join(argv) or 'nothing'}, expected sshd (mpirun reaches the node over ssh)")
    elif "-f" not in argv[:-1] or argv[argv.index("-f") + 1] != conf_path:
        report.fail(where, f"sshd does not read {conf_path}, where the Dockerfile installs {SSHD_MPIUSER}")


def check_trainjob(src, targets, report, used, manifest_mounts):
    runtime, runtime_mounts = check_runtime(src, report)
    job = one_document(src, TRAINJOB, ("TrainJob",), report)
    if job is None:
        return
    spec = job.get("spec") or {}
    ref = spec.get("runtimeRef") or {}
    if runtime is not None:
        name, kind = (runtime.get("metadata") or {}).get("name"), runtime.get("kind")
        if ref.get("name") != name or ref.get("kind", "ClusterTrainingRuntime") != kind:
            report.fail(TRAINJOB, f"runtimeRef names {ref.get('kind', 'ClusterTrainingRuntime')} {ref.get('name')}, "
                                  f"but {RUNTIME} is {kind} {name}")
    trainer = spec.get("trainer") or {}
    nodes, per_node = trainer.get("numNodes"), trainer.get("numProcPerNode")
    if nodes != EXPECTED_WORKERS:
        report.fail(TRAINJOB, f"trainer.numNodes is {nodes}, expected {EXPECTED_WORKERS}")
    gpus = int_or_none(((trainer.get("resourcesPerNode") or {}).get("limits") or {}).get(GPU))
    if gpus != EXPECTED_GPUS_PER_WORKER:
        report.fail(TRAINJOB, f"each node gets {gpus} GPUs (resourcesPerNode.limits {GPU}), expected "
                              f"{EXPECTED_GPUS_PER_WORKER}")
    if per_node != gpus:
        report.fail(TRAINJOB, f"trainer.numProcPerNode is {per_node} but each node has {gpus} GPUs: one rank per GPU")
    reserved = sorted({e.get("name") for e in trainer.get("env") or []} & TRAINER_RESERVED_ENV)
    if reserved:
        report.fail(TRAINJOB, f"sets {', '.join(reserved)}, which Trainer's MPI plugin reserves (it refuses the job)")
    check_launch_script(container_script(trainer), TRAINJOB, nodes, per_node, "numNodes x numProcPerNode",
                        targets, report, used)
    for claim, paths in sorted(runtime_mounts.items()):
        if claim in manifest_mounts and paths != manifest_mounts[claim]:
            report.fail(RUNTIME, f"mounts {claim} at {', '.join(sorted(paths))}; the MPIJob mounts it at "
                                 f"{', '.join(sorted(manifest_mounts[claim]))}, and the paths must agree")
