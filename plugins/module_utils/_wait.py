# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the one way an engine waits for Docker.

Docker does much of its work after it has answered: a network removed by a
service update is released a moment later, a node drains, an overlay reaches a
worker, a service's tasks converge. Every engine waits through the two helpers
here, so a wait always has a deadline, a clear message when it runs out, and a
clock and a sleep a unit test can replace (no test sleeps for real).
"""

from __future__ import annotations

import time

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError


class Clock:
    """Where a wait reads the time and how it sleeps; a test passes a fake one."""

    def __init__(self, now=time.monotonic, sleep=time.sleep):
        self.now = now
        self.sleep = sleep


REAL_CLOCK = Clock()


def wait_until(check, timeout, what, step=0.5, clock=REAL_CLOCK, **details):
    """Call ``check()`` until it returns a true value, and return that value.

    After ``timeout`` seconds: FabricError "Timed out after N s waiting <what>."
    carrying ``details`` (for example ``changed=True`` when a write came before).
    ``check`` is called at least once, even with a timeout of zero.
    """
    deadline = clock.now() + timeout
    while True:
        value = check()
        if value:
            return value
        if clock.now() >= deadline:
            raise FabricError('Timed out after %s s waiting %s.' % (timeout, what), **details)
        clock.sleep(step)


def retry_while(call, retryable, timeout, step=0.5, clock=REAL_CLOCK):
    """Return ``call()``, calling it again while it raises an error ``retryable(exc)`` accepts.

    For a write Docker refuses only for a moment ("network in use" while the
    endpoints of removed tasks are released). Once ``timeout`` seconds have
    passed, or for any other error, the error is raised as it is.
    """
    deadline = clock.now() + timeout
    while True:
        try:
            return call()
        except Exception as exc:  # pylint: disable=broad-except  # re-raised unless the caller accepts it
            if not retryable(exc) or clock.now() >= deadline:
                raise
        clock.sleep(step)
