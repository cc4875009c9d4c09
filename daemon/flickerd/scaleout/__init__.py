"""Where jobs run: in the daemon's threads (``local``) or as Ray tasks on a farm (``ray``).

Only ``ray_executor`` imports Ray, and only ``make_executor`` imports it, when asked for.
"""

from flickerd.scaleout.executor import Attempt, Capacity, Executor, Sink, make_executor

__all__ = ["Attempt", "Capacity", "Executor", "Sink", "make_executor"]
