#!/usr/bin/env python3
"""tests/tools/callgraph_cycles.py DIR: reads the call graphs gcc wrote with
-fcallgraph-info (DIR/*.ci, one per source file) and prints every cycle of
calls among the functions defined in them (a strongly connected component
of more than one function, or a function calling itself).  Exit status 1
when there is any, 0 when there is none, 2 when DIR holds no graph."""
import glob
import re
import sys

EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def main():
    files = glob.glob(sys.argv[1] + "/*.ci")
    if not files:
        print("no call graph in", sys.argv[1])
        return 2
    edges = {}
    for f in files:
        with open(f) as fh:
            for line in fh:
                m = EDGE.search(line)
                if m:
                    edges.setdefault(m.group(1), set()).add(m.group(2))
    # Tarjan's algorithm, iterative.
    index, low, on, stack, cycles, counter = {}, {}, set(), [], [], [0]
    for root in list(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in edges.get(v, ()):
                    cycles.append(sorted(comp))
    for c in cycles:
        print("call cycle:", " ".join(c))
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
