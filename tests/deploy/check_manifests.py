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
  (in sshAuthMountPath); its claims are storage.yaml's, mounted where the MPIJob mounts them.
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
import shlex
import sys

sys.dont_write_bytecode = True  # run from the source tree: leave no __pycache__ there
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mini_yaml  # noqa: E402

# The deployment this project documents (docs/scaling.md): change together with the manifest.
EXPECTED_WORKERS = 2
EXPECTED_GPUS_PER_WORKER = 8

MANIFEST = "deploy/kubeflow/mpijob-train-squad.yaml"
TRAINJOB = "deploy/kubeflow/trainjob-train-squad.yaml"
RUNTIME = "deploy/kubeflow/runtime-bert-squad-mpi.yaml"
SSHD_MPIUSER = "deploy/ssh/sshd-mpiuser.conf"
TRAINER_API = "trainer.kubeflow.org/v1alpha1"
# Env names Trainer's MPI plugin sets itself and refuses in a TrainJob.
TRAINER_RESERVED_ENV = {"OMPI_MCA_orte_default_hostfile", "OMPI_MCA_plm_rsh_args",
                        "OMPI_MCA_orte_keep_fqdn_hostnames", "OMPI_MCA_orte_set_default_slots"}
STORAGE = "deploy/kubeflow/storage.yaml"
PIPELINE = "deploy/kubeflow/pipeline.py"
DOCKERFILE = "deploy/Dockerfile"
SSHD_ROOT = "deploy/ssh/sshd-root.conf"
CMAKE_FILES = ("apps/CMakeLists.txt", "benchmarks/CMakeLists.txt")
INSTALL_DIR = "/opt/bert/bin"
GPU = "nvidia.com/gpu"

# mpirun options that take values (Open MPI 4 spellings); others are taken as switches.
MPIRUN_VALUES = {"-np": 1, "-n": 1, "-c": 1, "--np": 1, "-bind-to": 1, "--bind-to": 1, "-map-by": 1,
                 "--map-by": 1, "-rank-by": 1, "--rank-by": 1, "-mca": 2, "--mca": 2, "-x": 1,
                 "-hostfile": 1, "--hostfile": 1, "-machinefile": 1, "-H": 1, "-host": 1, "--host": 1,
                 "-npernode": 1, "--npernode": 1, "-wdir": 1, "--wdir": 1, "-output-filename": 1}
FLAG_REGISTRATION = re.compile(r"\badd_(?:string|int|int64|double|bool)\s*\(\s*\"([A-Za-z0-9_]+)\"")
FLAG_IN_TEXT = re.compile(r"(?<![\w-])--([a-z][a-z0-9_]*)")


class Sources:
    """The repository's files, with optional in-memory replacements (used by the self-test)."""

    def __init__(self, root, overrides=None):
        self.root = root
        self.overrides = overrides or {}

    def exists(self, rel):
        return rel in self.overrides or os.path.exists(os.path.join(self.root, rel))

    def read(self, rel):
        if rel in self.overrides:
            return self.overrides[rel]
        with open(os.path.join(self.root, rel), encoding="utf-8") as f:
            return f.read()


class Report:
    def __init__(self, quiet=False):
        self.failures = []
        self.quiet = quiet

    def fail(self, where, what):
        self.failures.append(f"{where}: {what}")
        if not self.quiet:
            print(f"FAIL {where}: {what}")

    def ok(self, what):
        if not self.quiet:
            print(f"ok   {what}")


def load_yaml(src, rel, report):
    text = src.read(rel)
    try:
        docs = mini_yaml.load_all(text, rel)
    except mini_yaml.YamlError as e:
        report.fail(rel, f"does not parse: {e}")
        return None
    try:
        import yaml
    except ImportError:
        return docs
    reference = [d for d in yaml.safe_load_all(text) if d is not None]
    if reference != docs:
        report.fail(rel, "tests/deploy/mini_yaml.py and PyYAML read it differently (fix the reader "
                         "or keep the file inside its subset)")
    return docs


# ---- CMake targets and the flags their sources register ---------------------------------------

def cmake_targets(src, report):
    """{executable: set of registered flags}, after reading CMAKE_FILES."""
    executables, libraries, links = {}, {}, {}
    for rel in CMAKE_FILES:
        if not src.exists(rel):
            continue
        text = re.sub(r"#[^\n]*", "", src.read(rel))
        base = os.path.dirname(rel)
        for kind, name, rest in re.findall(r"\b(add_executable|add_library)\s*\(\s*([\w.+-]+)([^)]*)\)", text):
            files = [os.path.join(base, w) for w in rest.split()
                     if not w.isupper() and not w.startswith("$")]
            (executables if kind == "add_executable" else libraries)[name] = (rel, files)
        for name, rest in re.findall(r"\btarget_sources\s*\(\s*([\w.+-]+)([^)]*)\)", text):
            target = executables.get(name) or libraries.get(name)
            if target:
                target[1].extend(os.path.join(base, w) for w in rest.split() if not w.isupper())
        for name, rest in re.findall(r"\btarget_link_libraries\s*\(\s*([\w.+-]+)([^)]*)\)", text):
            links.setdefault(name, []).extend(rest.split())

    def flags_of(target, seen):
        rel, files = executables.get(target) or libraries[target]
        found = set()
        for path in files:
            if not src.exists(path):
                report.fail(rel, f"lists {path} for target {target}, but the file does not exist")
                continue
            found |= set(FLAG_REGISTRATION.findall(src.read(path)))
        for lib in links.get(target, []):
            if lib in libraries and lib not in seen:
                seen.add(lib)
                found |= flags_of(lib, seen)
        return found

    return {name: flags_of(name, {name}) for name in executables}


def check_invocation(app_path, args, where, targets, report, used):
    app = os.path.basename(app_path)
    if app not in targets:
        report.fail(where, f"runs '{app_path}', but no CMakeLists.txt in {', '.join(CMAKE_FILES)} "
                           f"has add_executable({app} ...) (defined: {', '.join(sorted(targets)) or 'none'})")
        return
    used.add(app)
    if os.path.dirname(app_path) not in ("", INSTALL_DIR):
        report.fail(where, f"runs {app_path}; the image installs the apps in {INSTALL_DIR}")
    unknown = [a for a in args if a.startswith("--") and a[2:].split("=")[0] not in targets[app]]
    for flag in unknown:
        report.fail(where, f"{app} is given {flag.split('=')[0]}, which {app}'s sources do not register")
    if not unknown:
        report.ok(f"{where}: {app} and its {sum(a.startswith('--') for a in args)} flags exist")


# ---- the MPIJob -------------------------------------------------------------------------------

def shell_segments(script, where, report):
    """The simple commands of a shell script, as token lists (continuations joined)."""
    segments = []
    for line in re.sub(r"\\\n", " ", script).split("\n"):
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as e:
            report.fail(where, f"cannot tokenize '{line.strip()}': {e}")
            continue
        current = []
        for token in tokens:
            if token in (";", "&&", "||", "|"):
                segments.append(current)
                current = []
            else:
                current.append(token)
        segments.append(current)
    return [s for s in segments if s]


def container_script(container):
    argv = list(container.get("command") or []) + list(container.get("args") or [])
    if argv and os.path.basename(str(argv[0])) in ("bash", "sh") and "-c" in argv[:-1]:
        return str(argv[argv.index("-c") + 1])
    return shlex.join(str(a) for a in argv)


def parse_mpirun(tokens):
    """(-np value or None, index of the program or None) for a token list starting at mpirun."""
    np_value, i = None, 1
    while i < len(tokens) and tokens[i].startswith("-"):
        arity = MPIRUN_VALUES.get(tokens[i], 0)
        if tokens[i] in ("-np", "-n", "-c", "--np") and i + 1 < len(tokens):
            np_value = tokens[i + 1]
        i += 1 + arity
    return np_value, (i if i < len(tokens) else None)


def int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


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


def check_launch_script(script, where, nodes, per_node, what, targets, report, used):
    """One mpirun with -np = nodes x per_node and an app it knows; True when run as root."""
    mpiruns, as_root = 0, False
    for tokens in shell_segments(script, where, report):
        if os.path.basename(tokens[0]) == "mpirun":
            mpiruns += 1
            np_value, program = parse_mpirun(tokens)
            expected = (nodes or 0) * (per_node or 0)
            if int_or_none(np_value) != expected:
                report.fail(where, f"mpirun -np is {np_value}, expected {what} = {nodes} x {per_node} = {expected}")
            else:
                report.ok(f"{where}: mpirun -np {np_value} = {what} = {nodes} x {per_node}")
            if program is None:
                report.fail(where, "mpirun names no program")
                continue
            check_invocation(tokens[program], tokens[program + 1:], where, targets, report, used)
            as_root = as_root or "--allow-run-as-root" in tokens[:program]
        elif os.path.basename(tokens[0]) in targets or tokens[0].startswith(INSTALL_DIR + "/"):
            check_invocation(tokens[0], tokens[1:], where, targets, report, used)
    if mpiruns != 1:
        report.fail(where, f"the launcher should run mpirun once, found {mpiruns} mpirun commands")
    return as_root


def claim_mounts(pods):
    """{claim: set of mount paths} over the pods' containers."""
    mounts = {}
    for pod in pods:
        claims = {v["name"]: (v.get("persistentVolumeClaim") or {}).get("claimName")
                  for v in pod.get("volumes") or [] if v.get("persistentVolumeClaim")}
        for c in pod.get("containers") or []:
            for m in c.get("volumeMounts") or []:
                if claims.get(m.get("name")):
                    mounts.setdefault(claims[m["name"]], set()).add(m.get("mountPath"))
    return mounts


def check_root_ssh(src, spec, w_containers, report):
    """As root, the image's sshd uses the operator-mounted key in sshAuthMountPath as host key."""
    conf = dict(line.split(None, 1) for line in src.read(SSHD_ROOT).splitlines()
                if line.strip() and not line.lstrip().startswith("#") and len(line.split(None, 1)) == 2)
    mount = spec.get("sshAuthMountPath", "/root/.ssh")
    if not conf.get("HostKey", "").startswith(mount.rstrip("/") + "/"):
        report.fail(MANIFEST, f"sshAuthMountPath {mount} but {SSHD_ROOT} reads HostKey {conf.get('HostKey')}")
    for c in w_containers:
        port = (((c.get("readinessProbe") or {}).get("tcpSocket") or {}).get("port"))
        if port is not None and str(port) != conf.get("Port"):
            report.fail(MANIFEST, f"worker readinessProbe port {port}, but {SSHD_ROOT} listens on {conf.get('Port')}")


def check_claims_declared(src, claims, report, where):
    docs = load_yaml(src, STORAGE, report) or []
    declared = {(d.get("metadata") or {}).get("name") for d in docs
                if isinstance(d, dict) and d.get("kind") == "PersistentVolumeClaim"}
    for claim in sorted(claims - declared):
        report.fail(where, f"mounts claim {claim}, which {STORAGE} does not declare")


# ---- the Kubeflow Trainer v2 TrainJob and its runtime ------------------------------------------

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


def conf_settings(text):
    return dict(line.split(None, 1) for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#") and len(line.split(None, 1)) == 2)


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
    mount = mpi.get("sshAuthMountPath", "")
    if not sshd.get("HostKey", "").startswith(mount.rstrip("/") + "/"):
        report.fail(RUNTIME, f"sshAuthMountPath {mount!r}, but {SSHD_MPIUSER} reads HostKey {sshd.get('HostKey')}")
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
                check_runtime_sshd(c, sshd, sshd_conf_path, where, report)
    mounts = claim_mounts([job_pod(j) for j in jobs.values()])
    check_claims_declared(src, set(mounts), report, RUNTIME)
    return runtime, mounts


def check_runtime_sshd(container, sshd, conf_path, where, report):
    argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    if not argv or os.path.basename(argv[0]) != "sshd":
        report.fail(where, f"runs {' '.join(argv) or 'nothing'}, expected sshd (mpirun reaches the node over ssh)")
    elif "-f" not in argv[:-1] or argv[argv.index("-f") + 1] != conf_path:
        report.fail(where, f"sshd does not read {conf_path}, where the Dockerfile installs {SSHD_MPIUSER}")
    port = (((container.get("readinessProbe") or {}).get("tcpSocket") or {}).get("port"))
    if str(port) != sshd.get("Port"):
        report.fail(where, f"readinessProbe port {port}, but {SSHD_MPIUSER} listens on {sshd.get('Port')}")


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
