"""What tests/deploy's checkers share: the repository's files, the report, the YAML loader, the
apps' CMake targets and flags, and the parts of a launcher's shell script (mpirun and the app
it starts), and the claims pods mount. Standard library only (PyYAML optional).
"""
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

STORAGE = "deploy/kubeflow/storage.yaml"
DOCKERFILE = "deploy/Dockerfile"
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


# ---- launch scripts and mounts -----------------------------------------------------------------

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


def check_claims_declared(src, claims, report, where):
    docs = load_yaml(src, STORAGE, report) or []
    declared = {(d.get("metadata") or {}).get("name") for d in docs
                if isinstance(d, dict) and d.get("kind") == "PersistentVolumeClaim"}
    for claim in sorted(claims - declared):
        report.fail(where, f"mounts claim {claim}, which {STORAGE} does not declare")


def conf_settings(text):
    return dict(line.split(None, 1) for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#") and len(line.split(None, 1)) == 2)


def check_sshd_settings(conf_name, conf, mount, containers, where, report, probe_required):
    """The image's sshd config against a manifest: its host key in the mounted sshAuthMountPath,
    its port where the containers' readiness probes knock (a probe is optional unless required)."""
    if not conf.get("HostKey", "").startswith(mount.rstrip("/") + "/"):
        report.fail(where, f"sshAuthMountPath {mount!r}, but {conf_name} reads HostKey {conf.get('HostKey')}")
    for label, container in containers:
        port = (((container.get("readinessProbe") or {}).get("tcpSocket") or {}).get("port"))
        if (port is not None or probe_required) and str(port) != conf.get("Port"):
            report.fail(label, f"readinessProbe port {port}, but {conf_name} listens on {conf.get('Port')}")
