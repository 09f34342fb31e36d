"""The object graph's one breadth-first walk: each object's path as a save spells it, live or stored.

A TF2 checkpoint key is the path of the first route a breadth-first walk from the root finds to an
object. The same walk serves the stored graph (`first_paths`, no TensorFlow) and live trackables
(`ckptkit.live.snapshot.walk` hands it TensorFlow's children).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

__all__ = ["breadth_first", "children_of", "first_paths"]

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
    """The children of a stored graph's node as `(name, node id)` pairs (ids past the end are dropped)."""
    nodes = graph["nodes"]
    return lambda node_id: [(name, child) for child, name in nodes[node_id]["children"] if child < len(nodes)]


def first_paths(graph: dict) -> dict[int, str]:
    """Node id -> its path from the root (the root is ""), as the checkpoint's keys spell it."""
    paths = {0: ""}
    paths.update((node, path) for path, node in breadth_first(0, children_of(graph), key=lambda n: n))
    return paths
