"""The /debug/api_priority_and_fairness/ dumps: a row per priority level (dump_priority_levels) or per
queue (dump_queues), cells ending in "," and aligned in columns as upstream's tab writer aligns them
(each column as wide as its widest cell plus one space, at least 8; the last cell of a row unpadded).
Levels are listed by name; an exempt level has no queue set, so its cells are <none>."""

from __future__ import annotations

_NONE = "<none>"


def _aligned(rows: list[list[str]]) -> str:
    cells = [[f"{c}," for c in row[:-1]] + [row[-1]] for row in rows]
    columns = max(len(row) for row in cells) - 1
    widths = [max([len(row[j]) for row in cells if j < len(row) - 1] + [0]) + 1 for j in range(columns)]
    widths = [max(w, 8) for w in widths]
    return "".join("".join(c.ljust(widths[j]) for j, c in enumerate(row[:-1])) + row[-1] + "\n"
                   for row in cells)


def dump_priority_levels(dispatcher) -> str:
    rows = [["PriorityLevelName", "ActiveQueues", "IsIdle", "IsQuiescing", "WaitingRequests",
             "ExecutingRequests"]]
    for name in sorted(dispatcher.levels):
        level = dispatcher.levels[name]
        if level.exempt:
            rows.append([name] + [_NONE] * 5)
            continue
        waiting = level.waiting()
        rows.append([name, str(sum(1 for q in level.queues if q.waiting)),
                     str(waiting == 0 and level.executing == 0).lower(), "false", str(waiting), str(level.executing)])
    return _aligned(rows)


def dump_queues(dispatcher) -> str:
    rows = [["PriorityLevelName", "Index", "PendingRequests", "ExecutingRequests", "SeatsInUse", "NextDispatchR",
             "InitialSeatsSum", "MaxSeatsSum", "TotalWorkSum"]]
    for name in sorted(dispatcher.levels):
        level = dispatcher.levels[name]
        if level.exempt:
            rows.append([name] + [_NONE] * 8)
            continue
        for queue in level.queues:
            pending = len(queue.waiting)
            waiting_seats = sum(w.seats for w in queue.waiting)
            rows.append([name, str(queue.index), str(pending), str(queue.executing), str(queue.seats),
                         f"{queue.next_r:.8f}ss", str(waiting_seats), str(waiting_seats), f"{waiting_seats:.8f}ss"])
    return _aligned(rows)
