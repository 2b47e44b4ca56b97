# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way engines wait: deadlines on a fake clock, nothing sleeps for real."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._wait import Clock, retry_while, wait_until


class FakeClock(Clock):
    def __init__(self):
        super().__init__(now=lambda: self.time, sleep=self.advance)
        self.time = 0.0
        self.sleeps = []

    def advance(self, seconds):
        self.sleeps.append(seconds)
        self.time += seconds


def answers(*values):
    values = list(values)
    return lambda: values.pop(0)


@pytest.mark.parametrize('results, timeout, value, sleeps', [
    ([7], 10, 7, 0),                 # ready at once: no sleep
    ([None, 0, 'ok'], 10, 'ok', 2),  # ready on the third look
    (['ok'], 0, 'ok', 0),            # a zero timeout still looks once
])
def test_wait_until_returns_the_first_true_value(results, timeout, value, sleeps):
    clock = FakeClock()
    assert wait_until(answers(*results), timeout, 'for x', step=1, clock=clock) == value
    assert len(clock.sleeps) == sleeps


def test_wait_until_times_out_with_details():
    clock = FakeClock()
    with pytest.raises(FabricError, match=r'Timed out after 3 s waiting for node2 to drain\.') as caught:
        wait_until(lambda: False, 3, 'for node2 to drain', step=1, clock=clock, changed=True)
    assert caught.value.details == {'changed': True}
    assert clock.time == 3


class InUse(Exception):
    pass


def test_retry_while_retries_only_what_it_is_told():
    clock = FakeClock()
    calls = []

    def call():
        calls.append(clock.time)
        if len(calls) < 3:
            raise InUse('network in use')
        return 'removed'

    assert retry_while(call, lambda exc: isinstance(exc, InUse), 10, step=0.5, clock=clock) == 'removed'
    assert calls == [0, 0.5, 1.0]


def test_retry_while_raises_other_errors_at_once():
    clock = FakeClock()

    def call():
        raise ValueError('no such network')

    with pytest.raises(ValueError):
        retry_while(call, lambda exc: isinstance(exc, InUse), 10, clock=clock)
    assert clock.sleeps == []


def test_retry_while_gives_up_at_the_deadline():
    clock = FakeClock()

    def call():
        raise InUse('still in use')

    with pytest.raises(InUse):
        retry_while(call, lambda exc: True, 2, step=1, clock=clock)
    assert clock.time == 2
