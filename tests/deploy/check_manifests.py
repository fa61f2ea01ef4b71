#!/usr/bin/env python3
"""Checks deploy/ against the code it deploys, with nothing but python3's standard library.

    check_manifests.py <repository root>

What it checks (each failure printed as "FAIL <file>: <what>", exit status 1):
- deploy/kubeflow/mpijob-train-squad.yaml parses (tests/deploy/mini_yaml.py, compared with
  PyYAML when that is installed); kubeflow.org/v2beta1 MPIJob; EXPECTED_WORKERS workers with
  EXPECTED_GPUS_PER_WORKER GPUs each; slotsPerWorker = GPUs per worker; the launcher's
  mpirun -np = workers x slotsPerWorker; sshd's port and host key agree with the manifest;
  every claim it mounts is declared in storage.yaml.
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
    mpiruns = 0
    for tokens in shell_segments(container_script(l_containers[0]), MANIFEST, report):
        if os.path.basename(tokens[0]) == "mpirun":
            mpiruns += 1
            np_value, program = parse_mpirun(tokens)
            expected = (workers or 0) * (slots or 0)
            if int_or_none(np_value) != expected:
                report.fail(MANIFEST, f"mpirun -np is {np_value}, expected workers x slotsPerWorker = "
                                      f"{workers} x {slots} = {expected}")
            else:
                report.ok(f"{MANIFEST}: mpirun -np {np_value} = {workers} workers x {slots} slots")
            if program is None:
                report.fail(MANIFEST, "mpirun names no program")
                continue
            check_invocation(tokens[program], tokens[program + 1:], MANIFEST, targets, report, used)
            if "--allow-run-as-root" in tokens[:program]:
                check_root_ssh(src, spec, w_containers, report)
        elif os.path.basename(tokens[0]) in targets or tokens[0].startswith(INSTALL_DIR + "/"):
            check_invocation(tokens[0], tokens[1:], MANIFEST, targets, report, used)
    if mpiruns != 1:
        report.fail(MANIFEST, f"the launcher should run mpirun once, found {mpiruns} mpirun commands")
    mounts = {}
    for pod in (l_pod, (worker.get("template") or {}).get("spec") or {}):
        claims = {v["name"]: (v.get("persistentVolumeClaim") or {}).get("claimName")
                  for v in pod.get("volumes") or [] if v.get("persistentVolumeClaim")}
        for c in pod.get("containers") or []:
            for m in c.get("volumeMounts") or []:
                if claims.get(m.get("name")):
                    mounts.setdefault(claims[m["name"]], set()).add(m.get("mountPath"))
    check_claims_declared(src, set(mounts), report)
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


def check_claims_declared(src, claims, report):
    docs = load_yaml(src, STORAGE, report) or []
    declared = {(d.get("metadata") or {}).get("name") for d in docs
                if isinstance(d, dict) and d.get("kind") == "PersistentVolumeClaim"}
    for claim in sorted(claims - declared):
        report.fail(MANIFEST, f"mounts claim {claim}, which {STORAGE} does not declare")


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
