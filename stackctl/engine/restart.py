"""Docker's restart policy and back-off, as pure functions the monitor applies.

Stdlib only: the monitor imports it.
"""

from __future__ import annotations

from stackctl.engine.containers import RestartPolicy


def should_restart(policy: RestartPolicy, exit_code: int, restart_count: int,
                   manually_stopped: bool) -> bool:
    """Docker's restart decision after the container's process exited."""
    if manually_stopped or policy.name == "no":
        return False
    if policy.name == "on-failure":
        return exit_code != 0 and (not policy.max_retries or restart_count < policy.max_retries)
    return policy.name in ("always", "unless-stopped")


def next_backoff(previous: float, ran_for: float) -> float:
    """100 ms doubling up to 1 min; a run of 10 s or more resets it."""
    if ran_for >= 10 or previous <= 0:
        return 0.1
    return min(previous * 2, 60.0)


__all__ = ["next_backoff", "should_restart"]
