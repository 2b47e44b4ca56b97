# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recording writer: check mode sends nothing, every write is recorded, a failure says what was done."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._writer import Writer


class Api:
    def __init__(self):
        self.sent = []

    def _url(self, path, *args):
        return path.format(*args)

    def _post_json(self, url, data=None, params=None):
        self.sent.append(('post', url, data, params))
        return {'Id': 'x'}

    def _result(self, response, json=False):
        return response

    def remove_network(self, network_id):
        self.sent.append(('remove', network_id))

    def refuse(self, *args):
        raise FabricError('Docker said no')


class Client:
    def __init__(self):
        self.api = Api()

    def call(self, doing, method, *args, **kwargs):
        return method(*args, **kwargs)


@pytest.mark.parametrize('check_mode', [True, False])
def test_writes_are_recorded_and_only_sent_outside_check_mode(check_mode):
    client = Client()
    writer = Writer(client, check_mode)
    created = writer.post('Creating network a', '/networks/create', {'Name': 'a'})
    writer.write('Removing network b', client.api.remove_network, 'b-id')
    writer.post('Updating service s', '/services/{0}/update', {}, {'version': 3}, 'sid')
    assert writer.planned == ['Creating network a', 'Removing network b', 'Updating service s']
    assert writer.changed is True
    if check_mode:
        assert client.api.sent == [] and writer.done == [] and created is None
    else:
        assert created == {'Id': 'x'}
        assert writer.done == writer.planned
        assert client.api.sent == [('post', '/networks/create', {'Name': 'a'}, None), ('remove', 'b-id'),
                                   ('post', '/services/sid/update', {}, {'version': 3})]


def test_a_failure_half_way_reports_what_was_done():
    client = Client()
    writer = Writer(client, False)
    with pytest.raises(FabricError) as info:
        with writer.reporting():
            writer.write('Removing network b', client.api.remove_network, 'b-id')
            writer.write('Removing network c', client.api.refuse, 'c-id')
    assert info.value.details == {'changed': True, 'done': ['Removing network b'],
                                  'interrupted': 'Removing network c'}


@pytest.mark.parametrize('check_mode', [True, False])
def test_a_failure_before_any_write_reports_no_change(check_mode):
    writer = Writer(Client(), check_mode)
    with pytest.raises(FabricError) as info:
        with writer.reporting():
            raise FabricError('bad input')
    assert info.value.details.get('changed') in (None, False)
    assert not info.value.details.get('done')


def test_write_as_records_the_action_and_describes_the_call():
    seen = []

    class Client:
        check_mode = False

        def call(self, doing, method, *args, **kwargs):
            seen.append(doing)
            return method(*args, **kwargs)

    writer = Writer(Client(), False)
    writer.write_as('promote', 'promoting node n2', lambda: 'ok')
    writer.record('set labels')        # done by the same update call
    assert seen == ['promoting node n2']
    assert writer.done == writer.actions == ['promote', 'set labels']


def test_check_mode_actions_are_the_planned_ones():
    writer = Writer(object(), True)
    writer.write_as('init', 'initialising a swarm', None)
    writer.record('wait until down')
    assert writer.done == [] and writer.actions == ['init', 'wait until down']
