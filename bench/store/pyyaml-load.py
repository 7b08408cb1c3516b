#!/usr/bin/env python3
"""Anchor for the store benchmark: what most tooling does with a manifest tree - walk it and
yaml.load_all() every *.yaml with PyYAML's C LibYAML loader (CSafeLoader). Prints the same
"key value" lines as store-bench.

    pyyaml-load.py DIR
"""
import os
import resource
import sys
import time

import yaml


def main():
    root = sys.argv[1]
    t0 = time.monotonic()
    objects = files = 0
    kept = []
    for d, dirs, names in os.walk(root):
        dirs.sort()
        for n in sorted(names):
            if n.startswith(".") or not n.endswith((".yaml", ".yml")):
                continue
            with open(os.path.join(d, n), "rb") as f:
                docs = [x for x in yaml.load_all(f, Loader=yaml.CSafeLoader) if x]
            kept.append(docs)  # keep them, as a store would
            objects += len(docs)
            files += 1
    t1 = time.monotonic()
    print(f"load_ms {(t1 - t0) * 1000:.0f}")
    print(f"objects {objects}")
    print(f"files {files}")
    print(f"peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()
