# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network engine's writes and typed plans: a removal waits for services to release the network (no real sleep)."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._network_plan import Create, Keep, Recreate, Remove
from ansible_collections.docknet.fabric.plugins.module_utils._network_writes import NetworkWrites
from ansible_collections.docknet.fabric.plugins.module_utils._wait import Clock
from ansible_collections.docknet.fabric.plugins.module_utils._writer import Writer


class FakeClock(Clock):
    """Time moves only when the wait sleeps."""

    def __init__(self):
        self.time = 0.0
        super().__init__(now=lambda: self.time, sleep=self.advance)

    def advance(self, seconds):
        self.time += seconds


class RefusingClient:
    """Refuses ``remove_network`` with ``answers`` (one per call), then accepts it."""

    docker_host = 'unix:///double.sock'

    def __init__(self, answers):
        self.answers = list(answers)
        self.removed = []
        self.api = self

    def call(self, doing, method, *args, **kwargs):
        return method(*args, **kwargs)

    def remove_network(self, network_id):
        if self.answers:
            raise FabricError('Removing network n: %s' % self.answers.pop(0))
        self.removed.append(network_id)


def test_a_removal_waits_until_the_services_release_the_network():
    client = RefusingClient(['network n is in use by task x', 'error: network n has active endpoints'])
    clock = FakeClock()
    writer = Writer(client, check_mode=False)
    NetworkWrites(client, writer, clock=clock).remove_when_released('n', 'nid')
    assert client.removed == ['nid'] and writer.done == ['Removing network n'] and clock.time == 1.0


@pytest.mark.parametrize('answers, seconds', [
    (['permission denied'], 60),            # not a release to wait for: at once
    (['network n is in use'] * 200, 2),     # still in use when the time is up
])
def test_a_removal_gives_up(answers, seconds):
    client = RefusingClient(answers)
    writer = Writer(client, check_mode=False)
    with pytest.raises(FabricError, match=answers[0]):
        NetworkWrites(client, writer, clock=FakeClock()).remove_when_released('n', 'nid', seconds=seconds)
    assert client.removed == [] and writer.done == []


DESIRED = {'name': 'n', 'driver': 'bridge', 'state': 'present', 'force': False, 'recreate': True, 'fields': {}}
CURRENT = {'Name': 'n', 'Id': 'nid'}


@pytest.mark.parametrize('plan, action, acts, public', [
    (Keep(DESIRED), 'none', False, {'network': 'n', 'action': 'none'}),
    (Create(DESIRED), 'create', True, {'network': 'n', 'action': 'create'}),
    (Recreate(DESIRED, CURRENT, ['labels']), 'recreate', True,
     {'network': 'n', 'action': 'recreate', 'changes': ['labels']}),
    (Remove(DESIRED, CURRENT, purge=True), 'remove', True, {'network': 'n', 'action': 'remove', 'purge': True}),
])
def test_typed_plans_say_what_they_do(plan, action, acts, public):
    assert (plan.action, plan.acts, plan.public()) == (action, acts, public)
    assert plan.summary() == {'name': 'n', 'action': action, 'id': 'nid' if plan.current else None}


def test_a_create_another_run_made_meanwhile_is_kept():
    plan = Create(DESIRED)
    plan.taken_as_made({'Id': 'other'})
    assert (plan.action, plan.acts, plan.makes, plan.summary()['id']) == ('none', False, False, 'other')
