"""The object graph's one breadth-first walk: each object's path as a save spells it, live or stored.

A TF2 checkpoint key is the path of the first route a breadth-first walk from the root finds to an
object. The same walk serves the stored graph (`first_paths`, no TensorFlow) and live trackables
(`ckptkit.live.snapshot.walk` hands it TensorFlow's children). Other routes to an object are listed
once per object referring to it (`reference_paths`) and counted (`path_counts`): listing every route
is exponential on graphs where shared objects hold shared objects.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

__all__ = ["breadth_first", "children_of", "first_paths", "path_counts", "reference_paths"]

Node = TypeVar("Node")


def breadth_first(
    root: Node,
    children: Callable[[Node], Iterable[tuple[str, Node]]],
    *,
    key: Callable[[Node], Hashable] = id,
    descend: Callable[[Node], bool] = lambda node: True,
) -> Iterator[tuple[str, Node]]:
    """Yield `(path, node)` for every node reachable from `root`, once each, by the first path found.

    `children(node)` gives `(name, child)` pairs in the order a save visits them; `key` tells nodes
    apart (`id` for live objects, the node itself for numbered nodes); the walk does not go below a
    node for which `descend` is false.
    """
    seen = {key(root)}
    queue: deque[tuple[str, Node]] = deque([("", root)])
    while queue:
        prefix, node = queue.popleft()
        for name, child in children(node):
            if key(child) in seen:
                continue
            seen.add(key(child))
            path = f"{prefix}{name}"
            yield path, child
            if descend(child):
                queue.append((f"{path}/", child))


def children_of(graph: dict) -> Callable[[int], list[tuple[str, int]]]:
    """A stored node's children as `(name, node id)` pairs (ids outside the graph are dropped)."""
    nodes = graph["nodes"]
    return lambda node_id: [
        (name, child) for child, name in nodes[node_id]["children"] if 0 <= child < len(nodes)
    ]


def first_paths(graph: dict) -> dict[int, str]:
    """Node id -> its path from the root (the root is ""), as the checkpoint's keys spell it."""
    return _first_tree(graph)[0]


def _first_tree(graph: dict) -> tuple[dict[int, str], dict[int, int]]:
    """Each reachable node's first path and the node it was first reached from."""
    kids, expanding = children_of(graph), [0]

    def children(node: int) -> list[tuple[str, int]]:
        expanding[0] = node  # breadth_first yields a node's children while it expands that node
        return kids(node)

    paths, parents = {0: ""}, {0: -1}
    for path, node in breadth_first(0, children, key=lambda n: n):
        paths[node], parents[node] = path, expanding[0]
    return paths, parents


def reference_paths(graph: dict) -> dict[int, list[str]]:
    """Node id -> its first path, then one path per other reference to it, through the referrer's first path.

    A reference that leads back to an ancestor (a cycle) is left out, as a path may not repeat an object.
    The lists grow with the graph's references, not with its routes (exponential on shared objects).
    """
    first, parents = _first_tree(graph)
    kids = children_of(graph)
    paths = {node: [path] for node, path in first.items()}
    for node, prefix in first.items():
        ancestors, up = {node}, parents[node]
        while up != -1:
            ancestors.add(up)
            up = parents[up]
        for name, child in kids(node):
            path = f"{prefix}/{name}" if prefix else name
            if child not in ancestors and path != first[child] and path not in paths[child]:
                paths[child].append(path)
    return paths


def path_counts(graph: dict) -> dict[int, int] | None:
    """Node id -> how many paths lead to it from the root (the graph's routes), or None if it has cycles."""
    kids = children_of(graph)
    reachable = first_paths(graph)
    edges = {node: [child for _, child in kids(node) if child != node] for node in reachable}
    waiting = dict.fromkeys(reachable, 0)
    for children in edges.values():
        for child in children:
            waiting[child] += 1
    counts, ready = dict.fromkeys(reachable, 0), [0]
    counts[0] = 1
    while ready:  # Kahn's order: a node's count is final once every reference to it is counted
        node = ready.pop()
        for child in edges[node]:
            counts[child] += counts[node]
            waiting[child] -= 1
            if not waiting[child]:
                ready.append(child)
    return None if any(waiting.values()) else counts
