# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A forced network removal tolerates containers that leave on their own meanwhile (issue 17, point 5)."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils import _network
from ansible_collections.docknet.fabric.plugins.module_utils._network_plan import Recreate, Remove
from ansible_collections.docknet.fabric.plugins.module_utils._client import DockerClient, FabricError


class API:
    api_version = '1.41'
    timeout = 5

    def __init__(self, answer):
        self.answer = answer
        self.removed = []

    def disconnect_container_from_network(self, container, net_id, force=False):
        if self.answer:
            from docker.errors import APIError
            raise APIError('x', explanation=self.answer)

    def remove_network(self, net_id):
        self.removed.append(net_id)


def plan(action):
    kind = {'remove': Remove, 'recreate': Recreate}[action]
    work = kind({'name': 'ov', 'fields': {}, 'recreate': action == 'recreate'}, {'Id': 'nid', 'Name': 'ov'})
    work.containers = [{'id': 'c' * 64, 'name': 'task.1', 'settings': {}}]
    return work


@pytest.mark.parametrize('answer', [
    'container cccccccccccc is not connected to the network ov',
    'No such container: cccccccccccc',
    None,
])
def test_removal_tolerates_a_container_that_left(answer):
    api = API(answer)
    engine = _network.Engine(DockerClient(api, 'unix:///x.sock', None), 'overlay', check_mode=False)
    work = plan('remove')
    work.apply(engine)
    assert api.removed == ['nid']
    assert len(work.containers) == (0 if answer else 1)


def test_other_disconnect_failures_still_fail():
    api = API('permission denied')
    engine = _network.Engine(DockerClient(api, 'unix:///x.sock', None), 'overlay', check_mode=False)
    with pytest.raises(FabricError, match='permission denied'):
        plan('remove').apply(engine)
    assert api.removed == []
