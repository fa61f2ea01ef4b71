#!/usr/bin/env python3
"""Checks deploy/ against the code it deploys, with nothing but python3's standard library.

    check_manifests.py <repository root>

What it checks (each failure printed as "FAIL <file>: <what>", exit status 1):
- deploy/kubeflow/mpijob-train-squad.yaml parses (tests/deploy/mini_yaml.py, compared with
  PyYAML when that is installed); kubeflow.org/v2beta1 MPIJob; EXPECTED_WORKERS workers with
  EXPECTED_GPUS_PER_WORKER GPUs each; slotsPerWorker = GPUs per worker; the launcher's
  mpirun -np = workers x slotsPerWorker; sshd's port and host key agree with the manifest;
  every claim it mounts is declared in storage.yaml.
- deploy/kubeflow/trainjob-train-squad.yaml and runtime-bert-squad-mpi.yaml (Kubeflow Trainer
  v2, trainer.kubeflow.org/v1alpha1): the TrainJob names the runtime; numNodes and
  numProcPerNode are EXPECTED_WORKERS and EXPECTED_GPUS_PER_WORKER, GPUs per node =
  numProcPerNode, mpirun -np = numNodes x numProcPerNode, no env Trainer reserves; the runtime
  is an OpenMPI runtime whose "node" and "launcher" jobs have containers named node, the
  launcher (Trainer's "trainer" step) waits for the nodes to be Ready and keeps the image's
  entrypoint; its user is the image's mpiuser, its sshd the image's config, port and host key
  (in sshAuthMountPath); its claims are storage.yaml's, mounted where the MPIJob mounts them
  (check_trainjob.py; what both halves share: manifest_support.py).
- Every app the manifest or pipeline runs is an add_executable() target of apps/ or
  benchmarks/ CMakeLists.txt, and every --flag passed to it is registered by its sources
  (FlagParser add_string/add_int/add_int64/add_double/add_bool, in the executable's own
  sources or in a library of the same CMakeLists.txt that it links).
- deploy/Dockerfile installs those apps into /opt/bert/bin, and every file it COPYs from the
  context exists.
- deploy/kubeflow/pipeline.py compiles (in memory: no .pyc is written into the tree), runs
  apps from /opt/bert/bin that exist, uses the manifest, and mounts the manifest's claims at
  the manifest's paths.
"""
import ast
import os
import re
import sys

sys.dont_write_bytecode = True  # run from the source tree: leave no __pycache__ there
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_trainjob import RUNTIME, TRAINJOB, check_trainjob  # noqa: E402,F401 (the self-test's names)
from manifest_support import (CMAKE_FILES, DOCKERFILE, EXPECTED_GPUS_PER_WORKER, EXPECTED_WORKERS,  # noqa: E402
                              FLAG_IN_TEXT, GPU, INSTALL_DIR, Report, Sources, check_claims_declared,
                              check_launch_script, check_sshd_settings, claim_mounts, cmake_targets,
                              conf_settings, container_script, int_or_none, load_yaml)

MANIFEST = "deploy/kubeflow/mpijob-train-squad.yaml"
PIPELINE = "deploy/kubeflow/pipeline.py"
SSHD_ROOT = "deploy/ssh/sshd-root.conf"


# ---- the MPIJob -------------------------------------------------------------------------------

def check_mpijob(src, targets, report, used):
    docs = load_yaml(src, MANIFEST, report)
    if docs is None:
        return {}
    if len(docs) != 1 or not isinstance(docs[0], dict):
        report.fail(MANIFEST, f"expected one MPIJob document, found {len(docs)} documents")
        return {}
    job = docs[0]
    if job.get("apiVersion") != "kubeflow.org/v2beta1":
        report.fail(MANIFEST, f"apiVersion is {job.get('apiVersion')!r}, expected 'kubeflow.org/v2beta1'")
    if job.get("kind") != "MPIJob":
        report.fail(MANIFEST, f"kind is {job.get('kind')!r}, expected 'MPIJob'")
    spec = job.get("spec") or {}
    replicas = spec.get("mpiReplicaSpecs") or {}
    launcher, worker = replicas.get("Launcher") or {}, replicas.get("Worker") or {}
    if not launcher or not worker:
        report.fail(MANIFEST, "spec.mpiReplicaSpecs needs both Launcher and Worker")
        return {}
    if launcher.get("replicas", 1) != 1:
        report.fail(MANIFEST, f"Launcher.replicas is {launcher.get('replicas')}, expected 1")
    workers, slots = worker.get("replicas"), spec.get("slotsPerWorker", 1)
    if workers != EXPECTED_WORKERS:
        report.fail(MANIFEST, f"Worker.replicas is {workers}, expected {EXPECTED_WORKERS}")
    w_containers = ((worker.get("template") or {}).get("spec") or {}).get("containers") or []
    l_pod = (launcher.get("template") or {}).get("spec") or {}
    l_containers = l_pod.get("containers") or []
    gpus = 0
    for c in w_containers:
        res = c.get("resources") or {}
        limit = int_or_none((res.get("limits") or {}).get(GPU, 0))
        request = (res.get("requests") or {}).get(GPU)
        if limit is None:
            report.fail(MANIFEST, f"worker container {c.get('name')}: limits.{GPU} is not an integer")
            continue
        if request is not None and int_or_none(request) != limit:
            report.fail(MANIFEST, f"worker container {c.get('name')}: requests.{GPU} {request} != limits {limit}")
        gpus += limit
    if gpus != EXPECTED_GPUS_PER_WORKER:
        report.fail(MANIFEST, f"each worker gets {gpus} GPUs ({GPU} limits), expected {EXPECTED_GPUS_PER_WORKER}")
    if slots != gpus:
        report.fail(MANIFEST, f"slotsPerWorker is {slots} but each worker has {gpus} GPUs: one rank per GPU")
    for c in l_containers:
        if ((c.get("resources") or {}).get("limits") or {}).get(GPU):
            report.fail(MANIFEST, "the launcher requests GPUs; it only runs mpirun")
    policy = (spec.get("runPolicy") or {}).get("cleanPodPolicy")
    if policy not in ("All", "Running", "None"):
        report.fail(MANIFEST, f"runPolicy.cleanPodPolicy is {policy!r}, expected All, Running or None")
    if len(l_containers) != 1:
        report.fail(MANIFEST, f"expected one launcher container, found {len(l_containers)}")
        return {}
    as_root = check_launch_script(container_script(l_containers[0]), MANIFEST, workers, slots,
                                  "workers x slotsPerWorker", targets, report, used)
    if as_root:
        check_root_ssh(src, spec, w_containers, report)
    mounts = claim_mounts([l_pod, (worker.get("template") or {}).get("spec") or {}])
    check_claims_declared(src, set(mounts), report, MANIFEST)
    return mounts


def check_root_ssh(src, spec, w_containers, report):
    """As root, the image's sshd uses the operator-mounted key in sshAuthMountPath as host key."""
    check_sshd_settings(SSHD_ROOT, conf_settings(src.read(SSHD_ROOT)), spec.get("sshAuthMountPath", "/root/.ssh"),
                        [(f"{MANIFEST} (worker container {c.get('name')})", c) for c in w_containers], MANIFEST,
                        report, probe_required=False)


# ---- the pipeline -----------------------------------------------------------------------------

def module_constants(tree):
    return {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


def check_pipeline(src, targets, report, used, manifest_mounts):
    text = src.read(PIPELINE)
    try:
        compile(text, PIPELINE, "exec")  # what py_compile does, minus writing __pycache__
        tree = ast.parse(text, PIPELINE)
    except SyntaxError as e:
        report.fail(PIPELINE, f"does not compile: line {e.lineno}: {e.msg}")
        return
    report.ok(f"{PIPELINE} compiles")
    constants = module_constants(tree)
    if constants.get("BIN", INSTALL_DIR) != INSTALL_DIR:
        report.fail(PIPELINE, f"BIN is {constants['BIN']}, but the image installs the apps in {INSTALL_DIR}")
    if os.path.basename(MANIFEST) not in text:
        report.fail(PIPELINE, f"does not use {os.path.basename(MANIFEST)} for the training step")
    apps_run = set()
    for app in re.findall(r"(?:\{BIN\}|" + re.escape(INSTALL_DIR) + r")/([\w.+-]+)", text):
        apps_run.add(app)
        if app not in targets:
            report.fail(PIPELINE, f"runs {INSTALL_DIR}/{app}, but no CMakeLists.txt defines add_executable({app} ...)")
    if not apps_run:
        report.fail(PIPELINE, f"runs no app from {INSTALL_DIR}")
    used |= apps_run & set(targets)

    # Flags: attributed to the apps a function names; flags elsewhere to any app in use.
    in_functions = set()
    for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
        segment = ast.get_source_segment(text, fn) or ""
        named = {a for a in targets if re.search(r"\b" + re.escape(a) + r"\b", segment)}
        check_text_flags(fn, named or used, f"{PIPELINE} ({fn.name})", targets, report)
        in_functions |= {id(n) for n in ast.walk(fn)}
    rest = [n for n in ast.walk(tree) if id(n) not in in_functions]
    check_text_flags(rest, used, PIPELINE, targets, report)

    for call in [n for n in ast.walk(tree) if isinstance(n, ast.Call)]:
        if getattr(call.func, "attr", None) != "mount_pvc":
            continue
        kw = {k.arg: constants.get(k.value.id) if isinstance(k.value, ast.Name) else
              getattr(k.value, "value", None) for k in call.keywords}
        claim, path = kw.get("pvc_name"), kw.get("mount_path")
        if claim not in manifest_mounts:
            report.fail(PIPELINE, f"line {call.lineno}: mounts claim {claim}, which the MPIJob does not use")
        elif path not in manifest_mounts[claim]:
            report.fail(PIPELINE, f"line {call.lineno}: mounts {claim} at {path}; the MPIJob mounts it at "
                                  f"{', '.join(sorted(manifest_mounts[claim]))}, and the paths must agree")


def check_text_flags(nodes, apps, where, targets, report):
    nodes = ast.walk(nodes) if isinstance(nodes, ast.AST) else nodes
    known = set().union(*(targets[a] for a in apps if a in targets)) if apps else set()
    for node in nodes:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for flag in FLAG_IN_TEXT.findall(node.value):
                if flag not in known:
                    report.fail(where, f"line {node.lineno}: --{flag} is registered by none of "
                                       f"{', '.join(sorted(apps)) or 'the apps in use'}")


# ---- the Dockerfile ---------------------------------------------------------------------------

def check_dockerfile(src, targets, report, used):
    lines = [line.strip() for line in src.read(DOCKERFILE).splitlines()]
    code = "\n".join(line for line in lines if line and not line.startswith("#"))
    if not re.search(r"^COPY\s+--from=build\s+/opt/bert\b", code, re.M):
        report.fail(DOCKERFILE, "the runtime stage does not COPY --from=build /opt/bert")
    if INSTALL_DIR not in code:
        report.fail(DOCKERFILE, f"installs nothing into {INSTALL_DIR}")
    for app in sorted(used):
        apps_dir = os.path.dirname(cmake_file_of(src, app)) or "."
        if not re.search(r"\b" + re.escape(app) + r"\b", code):
            report.fail(DOCKERFILE, f"does not install {app} into {INSTALL_DIR}, but the deployment runs it")
        elif f"build/{apps_dir}/" not in code:
            report.fail(DOCKERFILE, f"{app} is built in build/{apps_dir}/, which the Dockerfile never copies from")
        else:
            report.ok(f"{DOCKERFILE} installs {app}")
    for match in re.finditer(r"^COPY\s+(?!--from)(?:--\S+\s+)*(.+)$", code, re.M):
        for path in match.group(1).split()[:-1]:
            if path != "." and not src.exists(path):
                report.fail(DOCKERFILE, f"COPY {path}: no such file in the repository")


def cmake_file_of(src, app):
    for rel in CMAKE_FILES:
        if src.exists(rel) and re.search(r"add_executable\s*\(\s*" + re.escape(app) + r"\b", src.read(rel)):
            return rel
    return CMAKE_FILES[0]


def run_checks(src, report):
    targets = cmake_targets(src, report)
    used = set()
    mounts = check_mpijob(src, targets, report, used)
    check_trainjob(src, targets, report, used, mounts)
    check_pipeline(src, targets, report, used, mounts)
    check_dockerfile(src, targets, report, used)
    return report.failures


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print(f"usage: {argv[0]} <repository root>", file=sys.stderr)
        return 2
    failures = run_checks(Sources(argv[1]), Report())
    if failures:
        print(f"{len(failures)} problem(s) in deploy/ (see FAIL lines above)")
        return 1
    print("deploy/ is consistent with the apps it deploys")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
