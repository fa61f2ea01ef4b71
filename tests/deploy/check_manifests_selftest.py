#!/usr/bin/env python3
"""Shows that check_manifests.py can fail: each case breaks one thing in an in-memory copy of
a deploy/ (or apps/) file and expects a failure whose message names it.

    check_manifests_selftest.py <repository root>

The unmodified tree must pass first (otherwise every case would "fail" for the wrong reason).
A case whose text to replace no longer exists fails too, so the cases follow the files.
"""
import os
import re
import sys

sys.dont_write_bytecode = True  # run from the source tree: leave no __pycache__ there
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_manifests as cm  # noqa: E402

# (what is broken, file, old text or regex, new text, words the failure must contain)
CASES = [
    ("mpirun -np off by 4", cm.MANIFEST, "mpirun -np 16 ", "mpirun -np 12 ", "-np is 12"),
    ("a flag train_squad lacks", cm.MANIFEST, "--seed 42", "--seed 42 --no_such_flag 1", "--no_such_flag"),
    ("an app CMake does not define", cm.MANIFEST, "/opt/bert/bin/train_squad", "/opt/bert/bin/train_squad_x",
     "add_executable(train_squad_x"),
    ("4 GPUs per worker", cm.MANIFEST, "nvidia.com/gpu: 8", "nvidia.com/gpu: 4", "4 GPUs"),
    ("3 workers", cm.MANIFEST, "    Worker:\n      replicas: 2", "    Worker:\n      replicas: 3",
     "Worker.replicas is 3"),
    ("slots != GPUs", cm.MANIFEST, "slotsPerWorker: 8", "slotsPerWorker: 4", "slotsPerWorker is 4"),
    ("wrong apiVersion", cm.MANIFEST, "apiVersion: kubeflow.org/v2beta1", "apiVersion: kubeflow.org/v1",
     "apiVersion"),
    ("undeclared claim", cm.MANIFEST, "claimName: bert-squad-output", "claimName: other-claim", "other-claim"),
    ("YAML outside the subset", cm.MANIFEST, "slotsPerWorker: 8", "slotsPerWorker: &slots 8", "does not parse"),
    ("TrainJob mpirun -np off", cm.TRAINJOB, "mpirun -np 16 ", "mpirun -np 8 ", "-np is 8"),
    ("TrainJob flag typo", cm.TRAINJOB, "--doc_stride 128", "--doc_strid 128", "--doc_strid"),
    ("TrainJob 3 nodes", cm.TRAINJOB, "numNodes: 2", "numNodes: 3", "numNodes is 3"),
    ("TrainJob ranks != GPUs", cm.TRAINJOB, "numProcPerNode: 8", "numProcPerNode: 4", "numProcPerNode is 4"),
    ("TrainJob names another runtime", cm.TRAINJOB, "name: bert-squad-mpi", "name: bert-squad", "runtimeRef"),
    ("TrainJob sets a reserved env", cm.TRAINJOB, "      - name: NCCL_DEBUG\n",
     "      - name: OMPI_MCA_plm_rsh_args\n        value: x\n      - name: NCCL_DEBUG\n", "reserves"),
    ("runtime ssh keys elsewhere", cm.RUNTIME, "sshAuthMountPath: /home/mpiuser/.ssh", "sshAuthMountPath: /root/.ssh",
     "HostKey"),
    ("runtime runs as root", cm.RUNTIME, "runAsUser: 1000", "runAsUser: 0", "uid 0"),
    ("runtime container renamed", cm.RUNTIME, "- name: node\n                      image:",
     "- name: trainer\n                      image:", "not named node"),
    ("launcher does not wait", cm.RUNTIME, "              status: Ready", "              status: Created", "Ready"),
    ("runtime sshd config path", cm.RUNTIME, "- /home/mpiuser/.sshd_config", "- /etc/ssh/sshd_config",
     "does not read /home/mpiuser/.sshd_config"),
    ("runtime mounts output elsewhere", cm.RUNTIME, "mountPath: /output", "mountPath: /results", "paths must agree"),
    ("pipeline syntax error", cm.PIPELINE, "import os\n", "import os\ndef broken(:\n", "does not compile"),
    ("pipeline flag typo", cm.PIPELINE, '"--doc_stride"', '"--doc_strid"', "--doc_strid"),
    ("pipeline app typo", cm.PIPELINE, '/prepare_squad"', '/prepare_squads"', "prepare_squads"),
    ("pipeline mount path", cm.PIPELINE, 'DATA_MOUNT = "/data"', 'DATA_MOUNT = "/datasets"', "paths must agree"),
    ("Dockerfile skips eval_squad", cm.DOCKERFILE, "train_squad eval_squad prepare_squad",
     "train_squad prepare_squad", "does not install eval_squad"),
    ("Dockerfile copies a missing file", cm.DOCKERFILE, "COPY LICENSE ", "COPY LICENCE ", "LICENCE"),
    ("CMake drops train_squad", "apps/CMakeLists.txt", re.compile(r"add_executable\(\s*train_squad\b[^)]*\)"),
     "", "add_executable(train_squad"),
    ("train_squad stops registering --seed", "apps/train_squad.cpp", '"seed"', '"random_seed"', "--seed"),
]


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print(f"usage: {argv[0]} <repository root>", file=sys.stderr)
        return 2
    root = argv[1]
    baseline = cm.run_checks(cm.Sources(root), cm.Report(quiet=True))
    if baseline:
        print("FAIL the unmodified tree does not pass check_manifests.py:")
        for failure in baseline:
            print(f"  {failure}")
        return 1
    problems = 0
    for what, rel, old, new, expected in CASES:
        text = cm.Sources(root).read(rel)
        changed = old.sub(new, text, count=1) if hasattr(old, "sub") else text.replace(old, new, 1)
        if changed == text:
            print(f"FAIL case '{what}': {rel} no longer contains {getattr(old, 'pattern', old)!r}; update the case")
            problems += 1
            continue
        failures = cm.run_checks(cm.Sources(root, {rel: changed}), cm.Report(quiet=True))
        if not any(expected in f for f in failures):
            print(f"FAIL case '{what}': expected a failure mentioning {expected!r}, got {failures or 'none'}")
            problems += 1
        else:
            print(f"ok   case '{what}' is caught: {next(f for f in failures if expected in f)}")
    print(f"{len(CASES) - problems} passed, {problems} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
