#!/usr/bin/env python3
"""The launch rule of kernels/kernel_launch.cuh: every kernel in kernels/ is launched through
launch_kernel (no <<<>>>, which cannot carry the programmatic-dependent-launch attribute), and
the first statement of every __global__ function is grid_dependency_sync() (under programmatic
dependent launch, anything a kernel did before it could race with the previous kernel).
Exits 1 naming each violation. It first checks itself on small bad sources, so it cannot pass
by finding nothing."""
import os
import re
import sys

SOURCES = (".cu", ".cuh")
SYNC = "grid_dependency_sync();"


def strip_comments(text):
    """Comments replaced by spaces (line numbers kept); string literals left alone."""
    text = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def check_text(name, text):
    code = strip_comments(text)
    problems = []
    for m in re.finditer(r"<<<", code):
        line = code.count("\n", 0, m.start()) + 1
        problems.append("%s:%d: <<<>>> launch (use launch_kernel, kernels/kernel_launch.cuh)" % (name, line))
    kernels = 0
    for m in re.finditer(r"\b__global__\b", code):
        brace, semicolon = code.find("{", m.end()), code.find(";", m.end())
        if brace < 0 or (0 <= semicolon < brace):
            continue  # a declaration
        kernels += 1
        body = code[brace + 1:].lstrip()
        if not body.startswith(SYNC):
            line = code.count("\n", 0, m.start()) + 1
            problems.append("%s:%d: kernel whose first statement is not %s" % (name, line, SYNC))
    return problems, kernels


def self_test():
    good = "__global__ void k(int* p) {\n  // why\n  grid_dependency_sync();\n  *p = 1;\n}\n"
    late = "__global__ void k(int* p) {\n  *p = 1;\n  grid_dependency_sync();\n}\n"
    chevron = good + "void run() { k<<<1, 1, 0, s>>>(p); }\n"
    commented = good + "// k<<<1, 1>>>(p) is not how\n"
    assert check_text("good", good) == ([], 1), check_text("good", good)
    assert len(check_text("late", late)[0]) == 1
    assert len(check_text("chevron", chevron)[0]) == 1
    assert check_text("commented", commented)[0] == []


def main():
    self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    folder = os.path.join(root, "kernels")
    problems, files, kernels = [], 0, 0
    for name in sorted(os.listdir(folder)):
        if not name.endswith(SOURCES):
            continue
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            found, count = check_text("kernels/" + name, f.read())
        problems += found
        files += 1
        kernels += count
    if kernels == 0:
        sys.exit("check_kernel_launches: no kernels found under %s" % folder)
    for p in problems:
        print(p)
    print("check_kernel_launches: %d files, %d kernels, %d problems" % (files, kernels, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
