"""Connected components of an edge DataFrame, by large-star / small-star (Kiveris et al., 2014).

Both operations only ever point a node at a smaller neighbour, so every component ends as a star
around its smallest node, which becomes the component's id: the same id on every run for the same
edges, whatever the partitioning. Each round is a few joins and aggregations over the edges (no
collect to the driver); the number of rounds grows with log n.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

log = logging.getLogger("moru.components")


def _large_star(edges: DataFrame) -> DataFrame:
    """Each node u links all its larger neighbours to the smallest of N(u) ∪ {u}."""
    both = edges.select(F.col("src").alias("u"), F.col("dst").alias("v")).unionByName(
        edges.select(F.col("dst").alias("u"), F.col("src").alias("v"))
    )
    m = both.groupBy("u").agg(F.least(F.min("v"), F.first("u")).alias("m"))
    return (
        both.filter(F.col("v") > F.col("u"))
        .join(m, "u")
        .select(F.col("v").alias("src"), F.col("m").alias("dst"))
        .distinct()
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Each node u links itself and its smaller neighbours to the smallest of them."""
    oriented = edges.select(F.greatest("src", "dst").alias("u"), F.least("src", "dst").alias("v")).filter(
        F.col("u") != F.col("v")
    )
    m = oriented.groupBy("u").agg(F.min("v").alias("m"))
    linked = oriented.join(m, "u")
    smaller = linked.filter(F.col("v") != F.col("m")).select(F.col("v").alias("src"), F.col("m").alias("dst"))
    selves = m.select(F.col("u").alias("src"), F.col("m").alias("dst"))
    return smaller.unionByName(selves).distinct()


def connected_components(edges: DataFrame, max_iterations: int = 50) -> tuple[DataFrame, int]:
    """(node, component) for every node that appears in ``edges`` (columns ``src``, ``dst``; both
    directions need not be present), and the number of rounds it took. ``component`` is the
    smallest node of the component."""
    # Each round reads the previous round's edges three times; without cutting the lineage the
    # query plan would triple every round. localCheckpoint materializes the edges on the executors
    # and starts the next plan from them.
    current = edges.select("src", "dst").filter(F.col("src") != F.col("dst")).distinct().localCheckpoint(eager=True)
    n_edges = current.count()
    rounds = 0
    while True:
        rounds += 1
        if rounds > max_iterations:
            raise RuntimeError(f"connected components did not converge in {max_iterations} rounds")
        nxt = _small_star(_large_star(current)).localCheckpoint(eager=True)
        n_next = nxt.count()
        # converged when the edges are disjoint stars: each node points at one root, and no root
        # points anywhere
        not_star = nxt.select(F.col("dst").alias("src")).distinct().join(nxt.select("src").distinct(), "src")
        two_roots = nxt.groupBy("src").count().filter(F.col("count") > 1)
        converged = not_star.limit(1).count() == 0 and two_roots.limit(1).count() == 0
        current = nxt
        log.info("components: round %d, %d -> %d edges, converged=%s", rounds, n_edges, n_next, converged)
        n_edges = n_next
        if converged:
            break
    # after convergence each edge is (node, root); roots get a row of their own
    nodes = current.select(F.col("src").alias("node"), F.col("dst").alias("component"))
    roots = current.select(F.col("dst").alias("node"), F.col("dst").alias("component")).distinct()
    return nodes.unionByName(roots).distinct(), rounds
