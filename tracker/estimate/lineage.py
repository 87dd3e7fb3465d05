"""Cumulative compute over lineage (methodology §7).

A system's training compute = its own runs (every stage) + its base system's cumulative
compute. Resolution iterates over lineage DEPTH (one join per generation), never over rows;
cycles are found first by pointer doubling (log2(n) joins).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from tracker.estimate.intervals import sum_or_null


class LineageCycleError(ValueError):
    """Base-system links that loop back on themselves."""

    def __init__(self, systems: list[str]) -> None:
        self.systems = systems
        super().__init__("lineage cycle: " + " -> ".join([*systems, systems[0]]))


def parent_index(nodes: pl.DataFrame) -> pl.Series:
    """Row position of each system's base (null when there is no base or it is not a known system)."""
    # Most systems have no base: only the rows that name one are looked up.
    named = nodes.get_column("base_system_key").is_not_null().arg_true()
    parent = pl.repeat(None, nodes.height, dtype=pl.UInt32, eager=True).alias("_parent")
    if named.len() == 0:
        return parent
    positions = nodes.select(
        pl.col("system_key").alias("base_system_key"), pl.int_range(pl.len(), dtype=pl.UInt32).alias("_parent")
    )
    found = (
        nodes.select(pl.col("base_system_key").gather(named))
        .join(positions, on="base_system_key", how="left", maintain_order="left")
        .get_column("_parent")
    )
    return parent.scatter(named, found)


def _onto_cycles(parent: pl.Series) -> pl.Series:
    """Per row, a row on the cycle its lineage ends in (null when it ends at a root): pointer
    doubling, log2(n) gathers. After >= n steps a pointer still set can only be circling a cycle."""
    ptr = parent
    steps = 1
    while steps < parent.len() + 1:
        if ptr.null_count() == ptr.len():
            return ptr
        ptr = ptr.gather(ptr)
        steps *= 2
    return ptr


def lineage_cycles(nodes: pl.DataFrame, parent: pl.Series | None = None) -> pl.DataFrame:
    """Every system whose lineage loops: one row per system on a cycle or descending from one,
    with ``system_key``, ``on_cycle`` and ``cycle`` (the keys around its cycle, from the cycle's
    first row in ``nodes``, not repeated at the end). Empty when the lineage is a forest.

    Stored data may hold a cycle that filing would now refuse (docs/filing.md): the registry-wide
    evaluation sets these systems aside instead of failing for everyone."""
    if parent is None:
        parent = parent_index(nodes)
    schema: dict[str, pl.DataType] = {"system_key": pl.String(), "on_cycle": pl.Boolean(),
                                      "cycle": pl.List(pl.String())}
    ptr = _onto_cycles(parent)
    affected = ptr.is_not_null().arg_true()
    if affected.len() == 0:
        return pl.DataFrame(schema=schema)
    # parent^(2^k) is a bijection on each cycle, so every cycle row is some row's pointer.
    cycle_of: dict[int, int] = {}
    cycles: list[list[int]] = []
    for start in sorted(set(ptr.gather(affected).to_list())):
        if start in cycle_of:
            continue
        members = [start]
        node = parent[start]
        while node != start:  # bounded by the cycle's length
            members.append(node)
            node = parent[node]
        first = members.index(min(members))
        members = members[first:] + members[:first]
        for member in members:
            cycle_of[member] = len(cycles)
        cycles.append(members)
    keys = nodes.get_column("system_key").cast(pl.String)
    rows = affected.to_list()
    reached = ptr.gather(affected).to_list()
    return pl.DataFrame(
        {
            "system_key": keys.gather(affected),
            "on_cycle": [row in cycle_of for row in rows],
            "cycle": [[keys[i] for i in cycles[cycle_of[r]]] for r in reached],
        },
        schema=schema,
    )


def check_cycles(nodes: pl.DataFrame, parent: pl.Series | None = None) -> None:
    """Raise LineageCycleError naming the systems on a cycle, if any (pointer doubling)."""
    if parent is None:
        parent = parent_index(nodes)
    ptr = _onto_cycles(parent)
    on_cycle = ptr.drop_nulls()
    if on_cycle.is_empty():
        return
    keys = nodes.get_column("system_key")
    start = int(on_cycle.min())  # type: ignore[arg-type]
    cycle = [start]
    node = parent[start]
    while node != start:  # walks one cycle only: error path, bounded by its length
        cycle.append(node)
        node = parent[node]
    raise LineageCycleError([keys[i] for i in cycle])


def accumulate(
    nodes: pl.DataFrame, sum_columns: Sequence[str], or_columns: Sequence[str] = (), parent: pl.Series | None = None
) -> pl.DataFrame:
    """For each system, the sum over itself and all its ancestors of each sum column (null parts
    count as 0; all-null stays null) and the OR of each boolean column. Output, in the order of
    `nodes`: system_key, cum_<col> for every column, lineage_depth, and base_row (the row of the
    system's base in `nodes`, null when it has none there). `nodes` must have unique system_key.

    One vectorized gather per generation, over the rows that still have an ancestor to add
    (most systems have none, a fine-tune one or two): ``ancestor[k]`` is the row of the k-th
    ancestor reached so far for ``rows[k]``. ``parent`` is ``parent_index(nodes)`` when the caller
    already has it."""
    if parent is None:
        parent = parent_index(nodes)
    check_cycles(nodes, parent)
    own = nodes.select(*sum_columns, *or_columns)
    acc = own.select(
        *[pl.col(c).alias(f"cum_{c}") for c in sum_columns],
        *[pl.col(c).fill_null(False).alias(f"cum_{c}") for c in or_columns],
    ).with_columns(pl.lit(0, dtype=pl.Int32).alias("lineage_depth"))
    rows = parent.is_not_null().arg_true()  # systems with at least one ancestor
    climbing = acc.gather(rows)  # their running totals
    active = pl.int_range(rows.len(), dtype=pl.UInt32, eager=True)  # positions still climbing
    ancestor = parent.gather(rows)
    while active.len() > 0:
        reached = pl.concat(
            [climbing.gather(active), own.gather(ancestor).rename(lambda c: f"_b_{c}")], how="horizontal"
        ).select(
            *[sum_or_null(pl.col(f"cum_{c}"), pl.col(f"_b_{c}")).alias(f"cum_{c}") for c in sum_columns],
            *[(pl.col(f"cum_{c}") | pl.col(f"_b_{c}").fill_null(False)).alias(f"cum_{c}") for c in or_columns],
            pl.col("lineage_depth") + 1,
        )
        climbing = climbing.with_columns(
            climbing.get_column(c).scatter(active, reached.get_column(c)) for c in climbing.columns
        )
        ancestor = parent.gather(ancestor)
        further = ancestor.is_not_null()
        active, ancestor = active.filter(further), ancestor.filter(further)
    # Written back once: row i takes row position[i] of `climbing` (null: no ancestor, unchanged).
    # A sum that is null there was null before too, so coalescing changes nothing else.
    position = pl.repeat(None, acc.height, dtype=pl.UInt32, eager=True).scatter(
        rows, pl.int_range(rows.len(), dtype=pl.UInt32, eager=True)
    )
    acc = acc.with_columns(
        pl.coalesce(pl.lit(climbing.get_column(c)).gather(pl.lit(position)), pl.col(c)).alias(c)
        for c in acc.columns
    )
    return pl.concat([nodes.select("system_key"), acc, parent.rename("base_row").to_frame()], how="horizontal")
