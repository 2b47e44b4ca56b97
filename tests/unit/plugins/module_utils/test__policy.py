# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_policy's engine: selection by tables, and check mode that writes nothing but plans everything."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.tests.unit.doubles import DoubleClient, ReadOnlyApi
from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils import _policy


def service(name, sid, networks=(), labels=None):
    return {'ID': sid, 'Version': {'Index': 1},
            'Spec': {'Name': name, 'Labels': labels or {},
                     'TaskTemplate': {'ContainerSpec': {'Image': 'probe'},
                                      'Networks': [{'Target': n} for n in networks]}}}


SERVICES = [service('web', 's1', labels={'tier': 'front'}), service('web-2', 's2', labels={'tier': 'front'}),
            service('db', 's3', labels={'tier': 'back'})]


def member(**selector):
    out = {'name': 'm', 'services': [], 'service_labels': {}, 'containers': [], 'container_labels': {}, 'hosts': []}
    out.update(selector)
    return out


@pytest.mark.parametrize('selector, names, missing', [
    ({'services': ['web']}, ['web'], []),
    ({'services': ['web*']}, ['web', 'web-2'], []),
    ({'services': ['s3']}, ['db'], []),
    ({'service_labels': {'tier': 'front'}}, ['web', 'web-2'], []),
    ({'service_labels': {'tier': None}}, ['db', 'web', 'web-2'], []),
    ({'services': ['web*'], 'service_labels': {'tier': 'back'}}, [], []),
    ({'services': ['nope', 'db']}, ['db'], ['service nope']),
    ({'containers': ['x']}, [], []),
])
def test_select_services(selector, names, missing):
    selected, lost = _policy.select_services(SERVICES, member(**selector))
    assert [s['Spec']['Name'] for s in selected] == names
    assert lost == missing


def test_container_networks_key_swarm_networks_by_id_and_local_ones_per_host():
    summary = {'NetworkSettings': {'Networks': {'ov': {'NetworkID': 'x'}, 'bridge': {'NetworkID': 'b1'}}}}
    assert _policy.container_networks(summary, 'h1', {'ov': 'ov-id'}) == {'ov-id': 'ov', ('h1', 'b1'): 'bridge'}


def overlay(name, nid, policy=None, members=''):
    labels = {'docknet.fabric.managed': 'true'}
    if policy:
        labels.update({'docknet.fabric.policy': policy, 'docknet.fabric.policy.members': members,
                       'docknet.fabric.policy.purpose': 'allow'})
    return {'Name': name, 'Id': nid, 'Driver': 'overlay', 'Scope': 'swarm', 'Attachable': True, 'Internal': True,
            'Labels': labels, 'Options': {}, 'IPAM': {'Driver': 'default', 'Config': []}}


PARAMS = {'name': 'p', 'members': [{'name': 'web', 'services': ['web']}, {'name': 'api', 'services': ['api']},
                                   {'name': 'db', 'services': ['db']}],
          'allow': [{'from': 'web', 'to': ['api']}], 'egress': [], 'strict': True, 'state': 'present'}


def test_check_mode_writes_nothing_and_plans_joins_leaves_and_removals():
    networks = [overlay('p_api_db', 'n-old', 'p', 'api,db'), overlay('front', 'n-front')]
    services = [service('web', 's1'), service('api', 's2', ['n-old']), service('db', 's3', ['n-old'])]
    client = DoubleClient(ReadOnlyApi(networks, services))
    result = _policy.run(client, dict(PARAMS), True, connect_host=None)
    assert result['changed'] is True
    assert result['actions'] == ['create network p_api_web', 'service api joins p_api_web',
                                 'service web joins p_api_web', 'service api leaves p_api_db',
                                 'service db leaves p_api_db', 'remove network p_api_db']
    assert result['removed_networks'] == ['p_api_db']
    assert result['diff']['before']['networks'] == {'p_api_db': ['api', 'db']}
    assert result['diff']['after']['networks'] == {'p_api_web': ['api', 'web']}
    assert result['diff']['after']['members']['db'] == {'service db': []}


def test_a_leak_fails_before_any_change_with_strict_and_warns_without():
    networks = [overlay('front', 'n-front')]
    services = [service('web', 's1', ['n-front']), service('api', 's2'), service('db', 's3', ['n-front'])]
    client = DoubleClient(ReadOnlyApi(networks, services))
    with pytest.raises(FabricError) as caught:
        _policy.run(client, dict(PARAMS), False, connect_host=None)
    assert 'db and web share front' in caught.value.msg and 'Nothing was changed' in caught.value.msg
    assert caught.value.details['leaks'] == [{'members': ['db', 'web'], 'network': 'front'}]
    warnings = []
    result = _policy.run(client, dict(PARAMS, strict=False), True, connect_host=None, warn=warnings.append)
    assert result['leaks'] and 'db and web share front' in warnings[0]


def test_a_network_of_a_needed_name_that_is_not_the_policys_is_refused():
    client = DoubleClient(ReadOnlyApi([overlay('p_api_web', 'n1')], [service('web', 's1'), service('api', 's2'),
                                                                     service('db', 's3')]))
    with pytest.raises(FabricError) as caught:
        _policy.run(client, dict(PARAMS), True, connect_host=None)
    assert caught.value.msg.startswith('network p_api_web exists but does not belong to policy p')


def test_a_member_that_selects_nothing_fails():
    client = DoubleClient(ReadOnlyApi([], [service('web', 's1'), service('api', 's2')]))
    with pytest.raises(FabricError) as caught:
        _policy.run(client, dict(PARAMS), True, connect_host=None)
    assert caught.value.msg.startswith('member db: nothing matches service db')
