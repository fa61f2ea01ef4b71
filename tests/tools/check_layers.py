#!/usr/bin/env python3
"""The include rule of the README's Layout: each library includes only itself and the layers
below it. Scans every C++/CUDA source under the library folders for #include "folder/..." and
exits 1 naming each include that runs up (or sideways) into a library it may not use."""
import os
import re
import sys

# folder -> the folders its sources may include (besides its own)
ALLOWED = {
    "core": set(),
    "tokenizer": {"core"},
    "data": {"core", "tokenizer"},
    "io": {"core"},
    "logging": {"core"},
    "comm": {"core"},
    "kernels": {"core"},
    "engine": {"core", "tokenizer", "data", "io", "logging", "comm", "kernels"},
    "apps": {"core", "tokenizer", "data", "io", "logging", "comm", "kernels", "engine"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([A-Za-z0-9_]+)/')
SOURCES = (".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    problems, scanned = [], 0
    for library, allowed in ALLOWED.items():
        for folder, _, files in os.walk(os.path.join(root, library)):
            for name in files:
                if not name.endswith(SOURCES):
                    continue
                path = os.path.join(folder, name)
                scanned += 1
                with open(path, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m and m.group(1) in ALLOWED and m.group(1) != library and m.group(1) not in allowed:
                            problems.append("%s:%d: %s includes %s/ (a layer it may not use)" %
                                            (os.path.relpath(path, root), number, library, m.group(1)))
    if scanned == 0:
        sys.exit("check_layers: no sources found under %s" % root)
    for p in problems:
        print(p)
    print("check_layers: %d files, %d includes against the layering" % (scanned, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
