# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_attachment's engine by tables, and a client double that proves check mode writes nothing."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils import _attachments as eng
from ansible_collections.docknet.fabric.plugins.module_utils import _endpoints
from ansible_collections.docknet.fabric.plugins.module_utils._attachment_network import default_gateway
from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError, DockerClient, FabricError

NET_ID = 'n' * 64
NETWORK = {
    'Name': 'backend', 'Id': NET_ID, 'Driver': 'bridge', 'Scope': 'local', 'Attachable': False,
    'IPAM': {'Config': [{'Subnet': '10.5.0.0/24', 'Gateway': '10.5.0.1', 'AuxiliaryAddresses': {'router': '10.5.0.2'}},
                        {'Subnet': 'fd00:5::/64', 'Gateway': 'fd00:5::1'}]},
    'Options': {}, 'Containers': {},
}


def cid(char):
    return char * 64


def endpoint(aliases=None, ipv4=None, links=None, network_id=NET_ID, short=None, driver_opts=None, mac=''):
    return {'IPAMConfig': {'IPv4Address': ipv4} if ipv4 else None, 'Links': links,
            'Aliases': (aliases or []) + ([short] if short else []), 'NetworkID': network_id,
            'DriverOpts': driver_opts, 'MacAddress': mac}


def summary(char, name, labels=None, networks=None, state='running'):
    """A listing entry (no aliases or links in its endpoints, as Docker lists them)."""
    listed = {key: dict(value, Aliases=None, Links=None) for key, value in (networks or {}).items()}
    return {'Id': cid(char), 'Names': ['/' + name], 'Labels': labels or {}, 'State': state,
            'NetworkSettings': {'Networks': listed}}


def inspected(char, name, labels=None, networks=None, running=True):
    return {'Id': cid(char), 'Name': '/' + name, 'Config': {'Labels': labels or {}},
            'State': {'Running': running}, 'NetworkSettings': {'Networks': networks or {}}}


def params(**overrides):
    base = dict(network='backend', containers=None, container_labels=None, state='present', exclusive=False,
                missing='fail', aliases=None, ipv4_address=None, ipv6_address=None, links=None,
                driver_opts=None, mac_address=None, gw_priority=None)
    base.update(overrides)
    return base


# --- normalise the request -------------------------------------------------------------------

@pytest.mark.parametrize('overrides, expected', [
    (dict(aliases=['b', 'a', 'a', ' ']), {'aliases': ['a', 'b']}),
    (dict(aliases=[]), {'aliases': []}),
    (dict(ipv4_address=' 10.5.0.9 '), {'ipv4_address': '10.5.0.9'}),
    (dict(ipv6_address='FD00:5:0:0::9'), {'ipv6_address': 'fd00:5::9'}),
    (dict(links=['db', '/cache:/me/c']), {'links': ['cache:c', 'db:db']}),
    (dict(driver_opts={'x': 1}), {'driver_opts': {'x': '1'}}),
    (dict(mac_address='02-42-AC-11-00-05'), {'mac_address': '02:42:ac:11:00:05'}),
    (dict(gw_priority=10), {'gw_priority': 10}),
    (dict(gw_priority=0), {'gw_priority': 0}),
    ({}, {}),
])
def test_normalise_request_declares_only_what_was_given(overrides, expected):
    assert eng.normalise_request(params(containers=['web'], **overrides))['declared'] == expected


@pytest.mark.parametrize('overrides, message', [
    (dict(), 'Give containers (names, ids or patterns like web_*) or container_labels'),
    (dict(containers=['web'], ipv4_address='10.5.0.300'), "ipv4_address: '10.5.0.300' is not an IPv4 address"),
    (dict(containers=['web'], ipv4_address='10.5.0.3/24'), 'without a prefix length'),
    (dict(containers=['web'], ipv4_address='fd00::1'), "ipv4_address: 'fd00::1' is not an IPv4 address"),
    (dict(containers=['web'], ipv6_address='10.5.0.3'), "ipv6_address: '10.5.0.3' is not an IPv6 address"),
    (dict(containers=['web'], mac_address='02:42'), "mac_address: '02:42' is not a MAC address"),
    (dict(containers=['web'], state='absent', aliases=['a'], links=['b']), 'aliases, links only apply to state=present'),
    (dict(containers=['web'], state='absent', exclusive=True), 'exclusive applies to state=present only'),
])
def test_normalise_request_rejects(overrides, message):
    with pytest.raises(FabricError) as caught:
        eng.normalise_request(params(**overrides))
    assert message in caught.value.msg


# --- select ----------------------------------------------------------------------------------

LISTING = [
    summary('a', 'app_web_1', {'com.docker.compose.service': 'web', 'tier': 'front'}),
    summary('b', 'app_web_2', {'com.docker.compose.service': 'web'}),
    summary('c', 'app_db_1', {'com.docker.compose.service': 'db'}),
    dict(summary('d', 'cache'), Names=['/app_web_1/cache', '/cache']),
]


@pytest.mark.parametrize('containers, labels, selected, missing', [
    (['app_web_1'], None, ['app_web_1'], []),
    (['app_web_*'], None, ['app_web_1', 'app_web_2'], []),
    (['app_web_?', 'app_db_1'], None, ['app_db_1', 'app_web_1', 'app_web_2'], []),
    ([cid('c')], None, ['app_db_1'], []),
    ([cid('c')[:12]], None, ['app_db_1'], []),
    (['ccc'], None, [], ['container ccc']),                         # short id prefixes are names
    (['cache'], None, ['cache'], []),                                # the own name, not the link name
    (['app_web'], None, [], ['container app_web']),                  # names match exactly
    (None, {'com.docker.compose.service': 'web'}, ['app_web_1', 'app_web_2'], []),
    (None, {'tier': None}, ['app_web_1'], []),
    (None, {'com.docker.compose.service': 'web', 'tier': 'front'}, ['app_web_1'], []),
    (['app_*'], {'com.docker.compose.service': 'db'}, ['app_db_1'], []),
    (['app_web_1', 'ghost'], None, ['app_web_1'], ['container ghost']),
    (['ghost_*'], None, [], ['containers ghost_*']),
    (None, {'com.docker.compose.service': 'api'}, [], ['container_labels com.docker.compose.service=api']),
    (['app_*'], {'x': None}, [], ['containers app_* with container_labels x']),
    (['app_web_1'], {'com.docker.compose.service': 'db'}, [], ['container app_web_1']),
])
def test_select(containers, labels, selected, missing):
    request = eng.normalise_request(params(containers=containers, container_labels=labels))
    found, unmatched = eng.select(LISTING, request)
    assert [_endpoints.container_name(s) for s in found] == selected
    assert unmatched == missing


# --- the network -----------------------------------------------------------------------------

@pytest.mark.parametrize('network, declared, message', [
    (dict(NETWORK, Driver='host', Name='host'), {}, 'Network host (driver host) cannot be joined'),
    (dict(NETWORK, Driver='null', Name='none'), {}, 'driver null'),
    (dict(NETWORK, Driver='overlay', Scope='swarm', Ingress=True, Name='ingress'), {}, 'routing mesh'),
    (dict(NETWORK, Driver='overlay', Scope='swarm'), {}, 'swarm network that is not attachable'),
    (dict(NETWORK, ConfigOnly=True), {}, 'Network backend is a configuration-only network'),
    (dict(NETWORK, Name='bridge', Options={'com.docker.network.bridge.default_bridge': 'true'}),
     {'aliases': ['a']}, 'default bridge, where Docker allows no aliases'),
])
def test_check_network_rejects(network, declared, message):
    with pytest.raises(FabricError) as caught:
        eng.check_network(network, declared)
    assert message in caught.value.msg


@pytest.mark.parametrize('network, declared', [
    (NETWORK, {'aliases': ['a']}),
    (dict(NETWORK, Driver='overlay', Scope='swarm', Attachable=True), {'aliases': ['a']}),
    (dict(NETWORK, Name='bridge', Options={'com.docker.network.bridge.default_bridge': 'true'}), {'links': ['x:y']}),
    ({'Name': 'mesh', 'Id': None, 'Remote': True}, {'ipv4_address': '10.0.0.5'}),
])
def test_check_network_accepts(network, declared):
    eng.check_network(network, declared)


ATTACHED = {cid('c'): {'id': cid('c'), 'name': 'app_db_1', 'labels': {},
                       'settings': dict(eng._EMPTY, ipv4_address='10.5.0.20')}}
RUNNING = dict(NETWORK, Containers={cid('d'): {'Name': 'cache', 'IPv4Address': '10.5.0.3/24', 'IPv6Address': ''}})


@pytest.mark.parametrize('declared, selected, message', [
    ({'ipv4_address': '10.5.0.9'}, [LISTING[0], LISTING[1]],
     'ipv4_address can be given only when exactly one container is selected; the selection matches 2: app_web_1, app_web_2'),
    ({'ipv4_address': '10.6.0.9'}, [LISTING[0]], 'ipv4_address 10.6.0.9 is outside the pools of network backend (10.5.0.0/24)'),
    ({'ipv6_address': 'fd00:6::9'}, [LISTING[0]], 'outside the pools of network backend (fd00:5::/64)'),
    ({'ipv4_address': '10.5.0.1'}, [LISTING[0]], 'ipv4_address 10.5.0.1 is already used on network backend by the gateway'),
    ({'ipv4_address': '10.5.0.2'}, [LISTING[0]], 'by the auxiliary address router'),
    ({'ipv4_address': '10.5.0.20'}, [LISTING[0]], 'already used on network backend by container app_db_1'),
    ({'ipv4_address': '10.5.0.3'}, [LISTING[0]], 'already used on network backend by container cache'),
    ({'ipv4_address': '10.5.0.255'}, [LISTING[0]], 'network or broadcast address'),
])
def test_check_static_addresses_rejects(declared, selected, message):
    with pytest.raises(FabricError) as caught:
        eng.check_static_addresses(RUNNING, declared, selected, ATTACHED)
    assert message in caught.value.msg


@pytest.mark.parametrize('network, declared, selected', [
    (RUNNING, {'ipv4_address': '10.5.0.9', 'ipv6_address': 'fd00:5::9'}, [LISTING[0]]),
    (RUNNING, {'ipv4_address': '10.5.0.20'}, [LISTING[2]]),                   # its own address
    (RUNNING, {'aliases': ['a']}, LISTING),
    (RUNNING, {'ipv4_address': '10.5.0.9'}, []),
    ({'Name': 'mesh', 'Id': None, 'Remote': True}, {'ipv4_address': '10.9.9.9'}, [LISTING[0]]),
])
def test_check_static_addresses_accepts(network, declared, selected):
    eng.check_static_addresses(network, declared, selected, ATTACHED)


@pytest.mark.parametrize('pool, gateway', [
    ({'Subnet': '10.5.0.0/24'}, '10.5.0.1'),
    ({'Subnet': '10.5.0.0/24', 'IPRange': '10.5.0.128/25'}, '10.5.0.128'),   # as Docker 20.10 chose it
    ({'Subnet': '10.5.0.0/24', 'IPRange': '10.5.0.0/25'}, '10.5.0.1'),
    ({'Subnet': 'fd00:5::/64'}, 'fd00:5::1'),
    ({'Subnet': 'garbage'}, None),
    ({}, None),
])
def test_default_gateway(pool, gateway):
    assert default_gateway(pool) == gateway


NO_GATEWAY = dict(NETWORK, IPAM={'Driver': 'default', 'Config': [{'Subnet': '10.5.0.0/24', 'IPRange': '10.5.0.128/25'},
                                                                 {'Subnet': 'fd00:5::/64'}]})
SEEN = [summary('z', 'other', networks={'backend': dict(endpoint(), Gateway='10.5.0.254', IPv6Gateway='')})]


@pytest.mark.parametrize('network, declared, summaries, message', [
    (NO_GATEWAY, {'ipv4_address': '10.5.0.128'}, (), 'ipv4_address 10.5.0.128 is already used on network backend by the '
                                                     'gateway Docker chose itself (pool 10.5.0.0/24 declares none)'),
    (NO_GATEWAY, {'ipv6_address': 'fd00:5::1'}, (), 'by the gateway Docker chose itself (pool fd00:5::/64'),
    (NO_GATEWAY, {'ipv4_address': '10.5.0.254'}, SEEN, 'ipv4_address 10.5.0.254 is already used on network backend by the gateway'),
    (dict(NO_GATEWAY, IPAM={'Driver': 'other', 'Config': [{'Subnet': '10.5.0.0/24'}]}), {'ipv4_address': '10.5.0.254'}, SEEN,
     'by the gateway'),
])
def test_check_static_addresses_rejects_the_gateway_docker_chose(network, declared, summaries, message):
    with pytest.raises(FabricError) as caught:
        eng.check_static_addresses(network, declared, [LISTING[0]], {}, summaries)
    assert message in caught.value.msg


def test_another_ipam_driver_chooses_its_own_gateway():
    network = dict(NO_GATEWAY, IPAM={'Driver': 'other', 'Config': [{'Subnet': '10.5.0.0/24'}]})
    eng.check_static_addresses(network, {'ipv4_address': '10.5.0.1'}, [LISTING[0]], {})


# --- compare ---------------------------------------------------------------------------------

ACTUAL = {'aliases': ['web'], 'ipv4_address': '10.5.0.9', 'ipv6_address': 'fd00:5::9', 'links': ['db:db'],
          'driver_opts': {'a': '1'}, 'mac_address': '02:42:0a:05:00:09', 'gw_priority': 0}


@pytest.mark.parametrize('declared, changed', [
    ({}, []),
    ({'aliases': ['web']}, []),
    ({'aliases': ['web', 'www']}, ['aliases']),
    ({'aliases': []}, ['aliases']),
    ({'ipv4_address': '10.5.0.9'}, []),
    ({'ipv4_address': '10.5.0.10'}, ['ipv4_address']),
    ({'ipv6_address': 'fd00:5::9'}, []),
    ({'links': ['db:db']}, []),
    ({'links': []}, ['links']),
    ({'driver_opts': {'a': '1'}}, []),
    ({'driver_opts': {}}, ['driver_opts']),
    ({'mac_address': '02:42:0a:05:00:09'}, []),
    ({'mac_address': '02:42:0a:05:00:0a', 'aliases': ['x']}, ['aliases', 'mac_address']),
    ({'gw_priority': 0}, []),
    ({'gw_priority': 10}, ['gw_priority']),
])
def test_differences_compare_only_what_is_declared(declared, changed):
    assert sorted(eng.differences(ACTUAL, declared)) == changed


def test_differences_normalise_the_actual_side():
    actual = dict(ACTUAL, ipv6_address='FD00:5:0::9', mac_address='02:42:0A:05:00:09', driver_opts={'a': 1})
    assert eng.differences(actual, {'ipv6_address': 'fd00:5::9', 'mac_address': '02:42:0a:05:00:09',
                                    'driver_opts': {'a': '1'}}) == {}


@pytest.mark.parametrize('actual_aliases, declared, automatic, changed', [
    (['web'], ['web', 'myhost'], {'myhost', 'a' * 12}, []),             # the hostname declared too: no difference
    (['web'], ['web', 'a' * 12], {'myhost', 'a' * 12}, []),             # the short id declared too
    (['web'], ['web'], {'myhost'}, []),
    ([], ['myhost'], {'myhost'}, []),
    (['web'], ['www'], {'myhost'}, ['aliases']),
    (['web'], [], {'myhost'}, ['aliases']),
])
def test_differences_leave_out_the_aliases_docker_adds(actual_aliases, declared, automatic, changed):
    actual = dict(ACTUAL, aliases=actual_aliases)
    assert sorted(eng.differences(actual, {'aliases': declared}, automatic)) == changed


@pytest.mark.parametrize('config, aliases, expected', [
    ({'Hostname': 'myhost'}, ['web', 'myhost', 'a' * 12], ['web']),         # Docker 20.10: hostname and short id
    ({'Hostname': 'a' * 12}, ['web', 'a' * 12], ['web']),                   # default hostname is the short id
    ({}, ['web', 'a' * 12], ['web']),
    ({'Hostname': 'myhost'}, ['web'], ['web']),                             # Docker 26+: both under DNSNames
    ({'Hostname': 'myhost'}, None, []),
])
def test_endpoint_settings_leave_out_the_aliases_docker_adds(config, aliases, expected):
    container = inspected('a', 'web', networks={'backend': dict(endpoint(), Aliases=aliases)})
    container['Config'].update(config)
    assert _endpoints.endpoint_settings(container, 'backend', NET_ID)['aliases'] == expected


def test_a_container_with_a_hostname_is_not_reconnected():
    """Docker 20.10 adds the hostname to the aliases: a re-run with the same aliases changes nothing."""
    networks = {'backend': endpoint(['web', 'myhost'], short=cid('a')[:12])}
    api = scene(read_only=True)
    api._containers[0] = summary('a', 'app_web_1', {'svc': 'web'}, networks)
    api._inspects[cid('a')] = inspected('a', 'app_web_1', {'svc': 'web'}, networks)
    api._inspects[cid('a')]['Config']['Hostname'] = 'myhost'
    for aliases in (['web'], ['web', 'myhost']):
        result = eng.run(client_for(api), params(containers=['app_web_1'], aliases=aliases), check_mode=True)
        assert result['actions'] == [] and result['changed'] is False
        assert result['containers'][0]['settings']['aliases'] == ['web']


def test_wanted_settings_keep_what_is_not_declared():
    assert eng.wanted_settings(ACTUAL, {'aliases': ['x']}) == dict(ACTUAL, aliases=['x'])
    assert eng.wanted_settings(None, {'aliases': ['x']}) == dict(eng._EMPTY, aliases=['x'])


# --- endpoints -------------------------------------------------------------------------------

@pytest.mark.parametrize('networks, found', [
    ({'backend': endpoint(['a'])}, True),
    ({'other-name': endpoint(['a'])}, True),                            # found by NetworkID
    ({NET_ID: endpoint(['a'], network_id='')}, True),                   # connected by id while unknown
    ({'backend': endpoint(['a'], network_id='')}, True),                # connected while stopped
    ({'other': endpoint(['a'], network_id='x')}, False),
    ({}, False),
])
def test_endpoint_settings_finds_the_endpoint(networks, found):
    container = inspected('a', 'web', networks=networks)
    assert (_endpoints.endpoint_settings(container, 'backend', NET_ID) is not None) is found


def test_endpoint_settings_normalise():
    container = inspected('a', 'web', networks={'backend': endpoint(
        ['www', 'web'], ipv4='10.5.0.9', links=['/db:/web/database', 'cache:c'], short=cid('a')[:12],
        driver_opts={'x': 'y'}, mac='02:42:0A:05:00:09')})
    assert _endpoints.endpoint_settings(container, 'backend', NET_ID) == {
        'aliases': ['web', 'www'], 'ipv4_address': '10.5.0.9', 'ipv6_address': None,
        'links': ['cache:c', 'db:database'], 'driver_opts': {'x': 'y'}, 'mac_address': '02:42:0a:05:00:09',
        'gw_priority': 0}


@pytest.mark.parametrize('text, expected', [
    ('container %s is not connected to the network x' % cid('a'), 'container web is not connected to the network x'),
    ('connecting container %s: refused' % cid('a')[:12], 'connecting container web: refused'),
    ('container %s is not running' % cid('b'), 'container %s is not running' % cid('b')),
    ('short %s' % cid('a')[:8], 'short %s' % cid('a')[:8]),
])
def test_name_ids(text, expected):
    assert _endpoints.name_ids(text, {cid('a'): 'web'}) == expected


@pytest.mark.parametrize('container, name', [
    ({'Id': cid('a'), 'Name': '/web'}, 'web'),
    ({'Id': cid('a'), 'Names': ['/other/alias', '/web']}, 'web'),
    ({'Id': cid('a')}, cid('a')[:12]),
])
def test_container_name(container, name):
    assert _endpoints.container_name(container) == name


# --- a client double -------------------------------------------------------------------------

class FakeAPI:
    """Enough of docker.APIClient for the engine; ``writes`` records every write."""

    api_version = '1.41'
    timeout = 5

    def __init__(self, network, containers, inspects, swarm=None, refuse=None, read_only=False):
        self._network, self._containers, self._inspects = network, containers, inspects
        self._swarm = swarm or {'LocalNodeState': 'inactive'}
        self._refuse = refuse or (lambda kwargs: False)
        self.read_only = read_only
        self.writes = []

    def inspect_network(self, reference):
        if self._network is None or reference not in (self._network['Name'], self._network['Id']):
            raise _api_error(404, 'network %s not found' % reference)
        return copy.deepcopy(self._network)

    def info(self):
        return {'Swarm': self._swarm}

    def containers(self, all=False, filters=None):  # pylint: disable=redefined-builtin
        assert all and not filters
        return copy.deepcopy(self._containers)

    def inspect_container(self, container_id):
        return copy.deepcopy(self._inspects[container_id])

    def connect_container_to_network(self, container, net_id, **kwargs):
        assert not self.read_only, 'check mode wrote: connect %s' % container
        if self._refuse(kwargs):
            raise _api_error(400, 'refused')
        self.writes.append(('connect', container[:1], net_id, kwargs))

    def disconnect_container_from_network(self, container, net_id, force=False):
        assert not self.read_only, 'check mode wrote: disconnect %s' % container
        self.writes.append(('disconnect', container[:1], net_id))


def _api_error(status, text):
    class Response:
        status_code = status
        reason = text

    return APIError(text, response=Response(), explanation=text)


def scene(**kwargs):
    """app_web_1 attached with alias web; app_web_2 not attached; cache attached (stopped, static address)."""
    networks_web1 = {'backend': endpoint(['web'], short=cid('a')[:12])}
    networks_cache = {'backend': endpoint([], ipv4='10.5.0.30', network_id='')}
    containers = [summary('a', 'app_web_1', {'svc': 'web'}, networks_web1),
                  summary('b', 'app_web_2', {'svc': 'web'}),
                  summary('d', 'cache', {}, networks_cache, state='exited'),
                  summary('e', 'task', {eng.SWARM_TASK_LABEL: 'x'}, {'backend': endpoint()})]
    inspects = {cid('a'): inspected('a', 'app_web_1', {'svc': 'web'}, networks_web1),
                cid('b'): inspected('b', 'app_web_2', {'svc': 'web'}),
                cid('d'): inspected('d', 'cache', {}, networks_cache, running=False),
                cid('e'): inspected('e', 'task', {eng.SWARM_TASK_LABEL: 'x'}, {'backend': endpoint()})}
    kwargs.setdefault('network', NETWORK)
    return FakeAPI(containers=containers, inspects=inspects, **kwargs)


def client_for(api):
    return DockerClient(api, 'unix:///fake.sock', None)


@pytest.mark.parametrize('overrides, actions', [
    (dict(container_labels={'svc': 'web'}, aliases=['web']),
     [('connect', 'app_web_2', [])]),
    (dict(container_labels={'svc': 'web'}, aliases=['web', 'www']),
     [('reconnect', 'app_web_1', ['aliases']), ('connect', 'app_web_2', [])]),
    (dict(containers=['app_web_1'], exclusive=True),
     [('disconnect', 'cache', [])]),                                  # the swarm task stays
    (dict(containers=['app_web_*'], state='absent'),
     [('disconnect', 'app_web_1', [])]),
    (dict(containers=['cache'], ipv4_address='10.5.0.30', aliases=[]), []),
    (dict(containers=['ghost', 'app_web_1'], missing='ignore'), []),
])
def test_check_mode_plans_and_writes_nothing(overrides, actions):
    api = scene(read_only=True)
    result = eng.run(client_for(api), params(**overrides), check_mode=True)
    assert [(a['action'], a['container'], a['changes']) for a in result['actions']] == actions
    assert result['changed'] is bool(actions)
    assert api.writes == []


def test_real_run_does_what_check_mode_predicted():
    args = params(container_labels={'svc': 'web'}, aliases=['web', 'www'])
    predicted = eng.run(client_for(scene(read_only=True)), args, check_mode=True)
    api = scene()
    done = eng.run(client_for(api), args, check_mode=False)
    assert done == predicted
    assert api.writes == [
        ('disconnect', 'a', NET_ID),
        ('connect', 'a', NET_ID, {'aliases': ['web', 'www']}),
        ('connect', 'b', NET_ID, {'aliases': ['web', 'www']}),
    ]
    assert done['diff']['before']['containers']['app_web_1']['aliases'] == ['web']
    assert done['diff']['after']['containers']['app_web_2']['aliases'] == ['web', 'www']
    assert set(done['diff']['after']['containers']) == {'app_web_1', 'app_web_2', 'cache', 'task'}


def test_reconnect_keeps_what_was_not_declared():
    api = scene()
    eng.run(client_for(api), params(containers=['cache'], aliases=['c']), check_mode=False)
    assert api.writes == [('disconnect', 'd', NET_ID),
                          ('connect', 'd', NET_ID, {'aliases': ['c'], 'ipv4_address': '10.5.0.30'})]


def test_a_refused_reconnect_puts_the_old_settings_back():
    api = scene(refuse=lambda kwargs: 'new' in kwargs.get('aliases', []))
    with pytest.raises(FabricError) as caught:
        eng.run(client_for(api), params(containers=['app_web_1'], aliases=['new']), check_mode=False)
    assert 'refused' in caught.value.msg and 'was put back on network backend' in caught.value.msg
    # Names, not ids: the network's and the container's.
    assert 'Network backend: connecting container app_web_1' in caught.value.msg
    assert NET_ID[:12] not in caught.value.msg and cid('a')[:12] not in caught.value.msg
    assert api.writes == [('disconnect', 'a', NET_ID), ('connect', 'a', NET_ID, {'aliases': ['web']})]


@pytest.mark.parametrize('swarm, message', [
    ({'LocalNodeState': 'inactive'}, 'Network mesh does not exist on the Docker host unix:///fake.sock'),
    ({'LocalNodeState': 'active', 'ControlAvailable': True}, 'Network mesh does not exist'),
])
def test_an_unknown_network_fails_before_any_change(swarm, message):
    api = scene(network=None, swarm=swarm, read_only=True)
    with pytest.raises(FabricError) as caught:
        eng.run(client_for(api), params(network='mesh', containers=['app_web_2']), check_mode=False)
    assert message in caught.value.msg


def test_a_worker_joins_a_swarm_network_it_does_not_know_yet_by_its_name():
    api = scene(network=None, swarm={'LocalNodeState': 'active', 'ControlAvailable': False})
    args = params(network='mesh', containers=['app_web_*'], aliases=['w'])
    predicted = eng.run(client_for(scene(network=None, read_only=True,
                                         swarm={'LocalNodeState': 'active', 'ControlAvailable': False})),
                        args, check_mode=True)
    done = eng.run(client_for(api), args, check_mode=False)
    assert predicted['actions'] == done['actions'] == [
        {'action': 'connect', 'container': 'app_web_1', 'changes': []},
        {'action': 'connect', 'container': 'app_web_2', 'changes': []}]
    assert api.writes == [('connect', 'a', 'mesh', {'aliases': ['w']}), ('connect', 'b', 'mesh', {'aliases': ['w']})]


def test_gated_options_fail_before_reading_anything():
    api = scene(network=None, read_only=True)
    with pytest.raises(FabricError) as caught:
        eng.run(client_for(api), params(containers=['app_web_1'], mac_address='02:42:00:00:00:01'), check_mode=False)
    assert caught.value.msg.startswith('network_attachment: option mac_address needs Docker API >= 1.44')
    assert 'speaks 1.41' in caught.value.msg


def test_missing_fails_naming_the_selection():
    with pytest.raises(FabricError) as caught:
        eng.run(client_for(scene(read_only=True)), params(containers=['ghost', 'app_web_1']), check_mode=False)
    assert 'matches container ghost' in caught.value.msg and caught.value.details == {'missing': ['container ghost']}


def test_snapshot_lists_by_network_name_and_id():
    class Listing(FakeAPI):
        def containers(self, all=False, filters=None):  # pylint: disable=redefined-builtin
            self.filters = filters
            return copy.deepcopy(self._containers[:1])

    api = scene()
    api.__class__ = Listing
    found = _endpoints.snapshot(client_for(api), NETWORK)
    assert api.filters == {'network': ['backend', NET_ID]}
    assert found == [{'id': cid('a'), 'name': 'app_web_1', 'running': True,
                      'settings': dict(eng._EMPTY, aliases=['web'])}]


def test_gw_priority_is_read_compared_and_shown_only_when_declared():
    container = inspected('a', 'web', networks={'backend': dict(endpoint(['web']), GwPriority=7)})
    settings = _endpoints.endpoint_settings(container, 'backend', NET_ID)
    assert settings['gw_priority'] == 7
    assert eng.differences(dict(settings, gw_priority=None), {'gw_priority': 0}) == {}   # before API 1.48
    assert 'gw_priority' not in eng._shown(settings, {})
    assert eng._shown(settings, {'gw_priority': 7})['gw_priority'] == 7


def test_gw_priority_needs_api_1_48():
    api = FakeAPI(NETWORK, [], {})
    with pytest.raises(FabricError) as caught:
        eng.run(client_for(api), params(containers=['app_web_1'], gw_priority=5), check_mode=False)
    assert caught.value.msg.startswith('network_attachment: option gw_priority needs Docker API >= 1.48')
    assert api.writes == []


@pytest.mark.parametrize('actions, refused', [
    ([{'action': 'connect', 'container': 'web'}], True),
    ([{'action': 'reconnect', 'container': 'web', 'changes': ['mac_address']}], True),
    ([{'action': 'reconnect', 'container': 'web', 'changes': ['aliases']}], True),    # it would lose its MAC
    ([{'action': 'disconnect', 'container': 'web'}], False),
    ([], False),
])
def test_a_mac_address_docker_would_ignore_is_refused(actions, refused):
    declared = {'mac_address': '02:42:0a:05:00:09'}
    if refused:
        with pytest.raises(FabricError) as caught:
            eng.refuse_unsettable_mac(actions, declared)
        assert 'moby/moby#48192' in caught.value.msg and '\n' not in caught.value.msg
    else:
        eng.refuse_unsettable_mac(actions, declared)
    eng.refuse_unsettable_mac([{'action': 'connect', 'container': 'web'}], {})
