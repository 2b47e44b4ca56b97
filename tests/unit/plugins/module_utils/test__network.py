# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network engine: normalisation, comparison and planning by tables; check mode writes nothing."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils._network_model import (
    DRIVER_OPTIONS,
    OWNER_LABEL,
    OWNER_SCOPE_LABEL,
    normalise_network,
    normalise_pools,
    normalise_task,
)
from ansible_collections.docknet.fabric.plugins.module_utils._values import normalise_cidr, to_bool
from ansible_collections.docknet.fabric.plugins.module_utils._network_view import (
    actual_view,
    body_from_network,
    create_body,
    differences,
    find_network,
    oldest_first,
)
from ansible_collections.docknet.fabric.plugins.module_utils._recreation import address_conflicts, addresses_fit
from ansible_collections.docknet.fabric.plugins.module_utils._network_plan import (
    check_parents,
    check_subnets,
    dual_stack_overlay_problem,
    gates_needed,
    plan_network,
    purge_candidates,
)
from ansible_collections.docknet.fabric.plugins.module_utils._network_writes import NetworkWrites, explain_create_error
from ansible_collections.docknet.fabric.plugins.module_utils._network_spec import network_spec
from ansible_collections.docknet.fabric.plugins.module_utils._network import Engine, run
from ansible_collections.docknet.fabric.plugins.module_utils import _recreation as recreation
from ansible_collections.docknet.fabric.tests.unit.doubles import DoubleClient, ReadOnlyApi
from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError, FabricError


@pytest.mark.parametrize('value, empty, expected', [
    (True, False, True), ('true', False, True), ('True', False, True), ('1', False, True), ('yes', False, True),
    ('false', False, False), ('0', False, False), (None, False, False), ('', True, True), ('', False, False),
])
def test_to_bool(value, empty, expected):
    assert to_bool(value, empty=empty) is expected


@pytest.mark.parametrize('text, expected', [
    ('10.1.0.0/24', '10.1.0.0/24'),
    (' 10.1.0.0/24 ', '10.1.0.0/24'),
    ('2001:0db8:0000:0000::/64', '2001:db8::/64'),
    ('2001:DB8:1::/64', '2001:db8:1::/64'),
    ('fd00:0:0:0:0:0:0:0/48', 'fd00::/48'),
])
def test_normalise_cidr(text, expected):
    assert normalise_cidr(text) == expected


@pytest.mark.parametrize('text, fragment', [
    ('10.1.0.1/24', 'host bits set'),
    ('10.1.0.0', 'CIDR form'),
    ('banana/24', 'banana'),
    ('10.1.0.0/33', '10.1.0.0/33'),
])
def test_normalise_cidr_rejects(text, fragment):
    with pytest.raises(ValueError) as info:
        normalise_cidr(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize('pools, ipv6, fragment', [
    ([{'subnet': '10.0.0.0/33'}], False, 'subnet'),
    ([{'gateway': '10.0.0.1'}], False, 'subnet is required'),
    ([{'subnet': '10.0.0.0/24', 'gateway': '10.0.1.1'}], False, 'gateway 10.0.1.1 is outside subnet 10.0.0.0/24'),
    ([{'subnet': '10.0.0.0/24', 'gateway': 'fd00::1'}], False, 'outside subnet'),
    ([{'subnet': '10.0.0.0/24', 'gateway': 'x'}], False, 'is not an IP address'),
    ([{'subnet': '10.0.0.0/24', 'ip_range': '10.0.1.0/28'}], False, 'ip_range 10.0.1.0/28 is outside subnet'),
    ([{'subnet': '10.0.0.0/24', 'aux_addresses': {'r': '10.9.0.1'}}], False, 'aux_addresses r: 10.9.0.1 is outside'),
    ([{'subnet': '10.0.0.0/16'}, {'subnet': '10.0.5.0/24'}], False, 'overlap'),
    ([{'subnet': 'fd00::/64'}], False, 'enable_ipv6'),
])
def test_bad_pools_are_refused(pools, ipv6, fragment):
    with pytest.raises(FabricError) as info:
        normalise_pools(pools, 'network n', ipv6)
    assert fragment in info.value.msg
    assert info.value.msg.startswith('network n')


def test_pools_are_normalised_and_sorted():
    pools = normalise_pools([
        {'subnet': '2001:0db8::/64', 'gateway': '2001:db8:0::1'},
        {'subnet': '10.0.0.0/24', 'iprange': '10.0.0.128/25', 'aux_addresses': {'r': '10.0.0.2'}},
    ], 'n', True)
    assert pools == [
        {'subnet': '10.0.0.0/24', 'ip_range': '10.0.0.128/25', 'aux_addresses': {'r': '10.0.0.2'}},
        {'subnet': '2001:db8::/64', 'gateway': '2001:db8::1'},
    ]


def listing_entry(name='n', driver='bridge', options=None, labels=None, pools=None, **top):
    entry = {'Name': name, 'Id': name + '-id' * 8, 'Driver': driver, 'Scope': 'local',
             'IPAM': {'Driver': 'default', 'Options': None, 'Config': pools or []},
             'Options': options or {}, 'Labels': labels if labels is not None else {OWNER_LABEL: 'true'}}
    entry.update(top)
    return entry


def desired(driver='bridge', **params):
    params.setdefault('name', 'n')
    return normalise_network(params, driver)


@pytest.mark.parametrize('driver, params, existing, expected', [
    # Docker filled in a gateway nobody declared: no difference.
    ('bridge', dict(ipam_config=[{'subnet': '10.0.0.0/24'}]),
     listing_entry(pools=[{'Subnet': '10.0.0.0/24', 'Gateway': '10.0.0.1'}]), []),
    # Pool order and IPv6 text form do not matter.
    ('bridge', dict(enable_ipv6=True, ipam_config=[{'subnet': '2001:0db8::/64'}, {'subnet': '10.0.0.0/24'}]),
     listing_entry(EnableIPv6=True, pools=[{'Subnet': '10.0.0.0/24'}, {'Subnet': '2001:db8::/64'}]), []),
    # Docker 20.10 keeps a prefix length on some gateways.
    ('bridge', dict(ipam_config=[{'subnet': '10.0.0.0/24', 'gateway': '10.0.0.1'}]),
     listing_entry(pools=[{'Subnet': '10.0.0.0/24', 'Gateway': '10.0.0.1/24'}]), []),
    # An IPv6 pool Docker added itself is not compared when no IPv6 pool is declared.
    ('bridge', dict(ipam_config=[{'subnet': '10.0.0.0/24'}]),
     listing_entry(pools=[{'Subnet': '10.0.0.0/24'}, {'Subnet': 'fd00:1::/64'}]), []),
    ('bridge', dict(ipam_config=[{'subnet': '10.0.0.0/24'}]),
     listing_entry(pools=[{'Subnet': '10.0.1.0/24'}]), ['ipam_config']),
    ('bridge', dict(ipam_config=[{'subnet': '10.0.0.0/24', 'gateway': '10.0.0.254'}]),
     listing_entry(pools=[{'Subnet': '10.0.0.0/24', 'Gateway': '10.0.0.1'}]), ['ipam_config']),
    # Booleans stored as strings; Docker's defaults when the key is absent.
    ('bridge', dict(enable_icc=False), listing_entry(options={'com.docker.network.bridge.enable_icc': 'false'}), []),
    ('bridge', dict(enable_icc='false'), listing_entry(options={'com.docker.network.bridge.enable_icc': 'false'}), []),
    ('bridge', dict(enable_icc=True), listing_entry(), []),
    ('bridge', dict(enable_icc=False), listing_entry(), ['enable_icc']),
    ('bridge', dict(mtu=1400), listing_entry(options={'com.docker.network.driver.mtu': '1400'}), []),
    ('bridge', dict(mtu=1400), listing_entry(options={'com.docker.network.driver.mtu': '1500'}), ['mtu']),
    ('bridge', dict(host_binding_ipv4='0.0.0.0'), listing_entry(), []),
    # encrypted is stored as "" or "true".
    ('overlay', dict(encrypted=True), listing_entry(driver='overlay', options={'encrypted': ''}), []),
    ('overlay', dict(encrypted=True), listing_entry(driver='overlay', options={'encrypted': 'true'}), []),
    ('overlay', dict(encrypted=False), listing_entry(driver='overlay'), []),
    ('overlay', dict(encrypted=True), listing_entry(driver='overlay'), ['encrypted']),
    ('overlay', dict(vxlan_ids=[4242]),
     listing_entry(driver='overlay', options={'com.docker.network.driver.overlay.vxlanid_list': '4242'}), []),
    # Docker fills the VXLAN list in itself: not a raw option difference.
    ('overlay', dict(options={}),
     listing_entry(driver='overlay', options={'com.docker.network.driver.overlay.vxlanid_list': '4097'}), []),
    ('macvlan', dict(parent='mv0', macvlan_mode='bridge'), listing_entry(driver='macvlan', options={'parent': 'mv0'}), []),
    ('macvlan', dict(macvlan_mode='private'), listing_entry(driver='macvlan', options={'parent': 'mv0'}),
     ['macvlan_mode']),
    # Labels: exact when declared (the ownership label aside), ignored when not.
    ('bridge', dict(labels={'a': 'b'}), listing_entry(labels={'a': 'b', OWNER_LABEL: 'true'}), []),
    ('bridge', dict(labels={}), listing_entry(labels={'a': 'b', OWNER_LABEL: 'true'}), ['labels']),
    ('bridge', dict(), listing_entry(labels={'a': 'b'}), []),
    ('bridge', dict(options={'x': '1'}), listing_entry(options={'x': '1', 'y': '2'}), ['options']),
    ('bridge', dict(internal=True), listing_entry(Internal=False), ['internal']),
    ('bridge', dict(ipam_driver='default'), listing_entry(), []),
])
def test_differences(driver, params, existing, expected):
    wanted = desired(driver, **params)
    assert differences(wanted, actual_view(existing, driver)) == expected


@pytest.mark.parametrize('driver, params, fragment', [
    ('bridge', dict(options={'encrypted': ''}), 'option encrypted does not belong to the bridge driver'),
    ('overlay', dict(options={'com.docker.network.bridge.name': 'x'}), 'does not belong to the overlay driver'),
    ('bridge', dict(options={'parent': 'eth0'}), 'does not belong'),
    ('bridge', dict(options={'com.docker.network.bridge.enable_icc': 'false'}), 'use that instead'),
    ('bridge', dict(labels={OWNER_LABEL: 'x'}), 'set by this collection'),
    ('bridge', dict(name='bridge'), 'Docker manages itself'),
    ('bridge', dict(mtu=20), 'mtu 20'),
    ('bridge', dict(host_binding_ipv4='::1'), 'not an IPv4 address'),
    ('macvlan', dict(config_from='c', parent='mv0'), 'leave them out'),
    ('macvlan', dict(config_from='c', config_only=True), 'exclude each other'),
    ('macvlan', dict(config_only=True, attachable=True), 'config-only network takes no attachable'),
])
def test_bad_network_input(driver, params, fragment):
    with pytest.raises(FabricError) as info:
        desired(driver, **params)
    assert fragment in info.value.msg


@pytest.mark.parametrize('params, fragment', [
    (dict(name='a', purge=True), 'purge needs the list form'),
    (dict(networks=[{'name': 'a'}, {'name': 'a'}]), 'declared twice'),
])
def test_bad_task_input(params, fragment):
    with pytest.raises(FabricError) as info:
        normalise_task(params, 'bridge')
    assert fragment in info.value.msg


def test_list_entries_inherit_recreate_and_force():
    entries = normalise_task(dict(networks=[{'name': 'a'}, {'name': 'b', 'force': False}], force=True,
                                  recreate=True), 'bridge')
    assert [(e['force'], e['recreate']) for e in entries] == [(True, True), (False, True)]


def test_create_body():
    wanted = desired('overlay', encrypted=True, attachable=True, mtu=1400, vxlan_ids=[4242],
                     ipam_config=[{'subnet': '10.5.0.0/24'}], labels={'a': 'b'})
    body = create_body(wanted, 'overlay')
    assert body['Options'] == {'encrypted': '', 'com.docker.network.driver.mtu': '1400',
                               'com.docker.network.driver.overlay.vxlanid_list': '4242'}
    assert body['Labels'] == {'a': 'b', OWNER_LABEL: 'true', OWNER_SCOPE_LABEL: 'default'}
    assert body['Attachable'] is True
    assert body['IPAM'] == {'Driver': 'default', 'Config': [{'Subnet': '10.5.0.0/24'}]}
    swarm_macvlan = create_body(desired('macvlan', config_from='cfg', attachable=True), 'macvlan')
    assert swarm_macvlan['ConfigFrom'] == {'Network': 'cfg'} and swarm_macvlan['Scope'] == 'swarm'


def test_plan_refuses_another_driver_and_accepts_config_only():
    with pytest.raises(FabricError) as info:
        plan_network(desired('bridge'), listing_entry(driver='macvlan'))
    assert 'exists with driver macvlan, not bridge' in info.value.msg
    config_only = listing_entry(driver='null', ConfigOnly=True, options={'parent': 'mv0'})
    plan = plan_network(desired('macvlan', config_only=True, parent='mv0'), config_only)
    assert plan.action == 'none'


def test_purge_candidates_only_owned_of_the_driver():
    listing = [
        listing_entry('keep'),
        listing_entry('old'),
        listing_entry('foreign', labels={}),
        listing_entry('bridge', labels={OWNER_LABEL: 'true'}),
        listing_entry('ov', driver='overlay'),
    ]
    assert [n['Name'] for n in purge_candidates(listing, 'bridge', {'keep'})] == ['old']


def test_purge_takes_swarm_macvlan_through_its_owned_config_network():
    listing = [
        listing_entry('cfg', driver='null', ConfigOnly=True),
        listing_entry('lan', driver='macvlan', labels={}, ConfigFrom={'Network': 'cfg'}),
        listing_entry('other', driver='macvlan', labels={}, ConfigFrom={'Network': 'theirs'}),
        listing_entry('theirs', driver='null', labels={}, ConfigOnly=True),
    ]
    assert [n['Name'] for n in purge_candidates(listing, 'macvlan', set())] == ['lan', 'cfg']
    body = create_body(desired('macvlan', config_from='cfg'), 'macvlan')
    assert 'Labels' not in body


@pytest.mark.parametrize('parent, message, fragment', [
    ('nope0', 'invalid subinterface vlan name nope0, example formatting is eth0.10', 'parent interface nope0 does not exist'),
    ('nope0', '-o parent interface was not found on the host: nope0', 'does not exist'),
    ('mv0.50', 'failed to create mv0.50 vlan link: operation not supported', '802.1q'),
])
def test_create_errors_are_explained(parent, message, fragment):
    body = {'Name': 'n', 'Options': {'parent': parent}}
    assert fragment in explain_create_error(body, message)


def test_docker_naming_the_other_macvlan_by_a_dummy_id_is_explained():
    body = {'Name': 'n', 'Options': {'parent': 'mv0'}}
    text = explain_create_error(body, 'network dm-03e8d2c5fb93 is already using parent interface mv0')
    assert 'parent mv0 is already used by another macvlan network' in text and 'does not exist' not in text


LAN = listing_entry('lan', driver='macvlan', options={'parent': 'mv0'})
CFG = listing_entry('cfg', driver='null', options={'parent': 'mv1'}, ConfigOnly=True)
SCOPED = listing_entry('scoped', driver='macvlan', ConfigFrom={'Network': 'cfg'}, Scope='swarm')
VLAN = listing_entry('vlan', driver='macvlan', options={'parent': 'mv0.10'})


def macvlan_plans(listing, *entries):
    plans = []
    for params in entries:
        entry = desired('macvlan', **params)
        plan = plan_network(entry, find_network(listing, entry['name'], 'macvlan'))
        plan.desired = entry
        plans.append(plan)
    return plans


@pytest.mark.parametrize('entries, fragment', [
    ([dict(name='new', parent='mv0')],
     'network new: parent mv0 is already used by macvlan network lan on this Docker host, and Docker allows one '
     'macvlan network per parent interface'),
    ([dict(name='new', parent='mv1')], 'parent mv1 is already used by the config-only network cfg'),
    ([dict(name='cfg2', parent='mv1', config_only=True)], 'parent mv1 is already used by the config-only network cfg'),
    ([dict(name='lan', parent='mv0', macvlan_mode='private', recreate=True), dict(name='new', parent='mv0')],
     'network new: parent mv0 is already used by macvlan network lan'),
    ([dict(name='a', parent='mv2'), dict(name='b', parent='mv2')], 'network b: parent mv2 is already used by macvlan network a'),
    ([dict(name='c2', parent='mv2', config_only=True), dict(name='s2', config_from='c2'), dict(name='l2', parent='mv2')],
     'network l2: parent mv2 is already used by the config-only network c2'),
    ([dict(name='s3', config_from='cfg'), dict(name='l3', parent='mv1')], 'network l3: parent mv1'),
])
def test_a_parent_used_by_another_macvlan_network_is_refused(entries, fragment):
    with pytest.raises(FabricError) as caught:
        check_parents(macvlan_plans([LAN, CFG, SCOPED, VLAN], *entries), [LAN, CFG, SCOPED, VLAN])
    assert fragment in caught.value.msg


@pytest.mark.parametrize('entries', [
    [dict(name='lan', parent='mv0')],                                                # itself, unchanged
    [dict(name='lan', parent='mv0', macvlan_mode='private', recreate=True)],        # itself, recreated
    [dict(name='lan', state='absent'), dict(name='new', parent='mv0')],             # its parent is freed first
    [dict(name='s4', config_from='cfg')],                                            # made from the config-only network
    [dict(name='new', parent='mv0.20'), dict(name='dummy')],                         # another sub-interface; no parent
    [dict(name='c5', parent='mv5', config_only=True), dict(name='s5', config_from='c5')],
])
def test_parents_free_for_the_network(entries):
    check_parents(macvlan_plans([LAN, CFG, SCOPED, VLAN], *entries), [LAN, CFG, SCOPED, VLAN])


@pytest.mark.parametrize('settings, pools, lost', [
    ({'ipv4_address': '10.0.0.5'}, [{'subnet': '10.0.0.0/24'}], []),
    ({'ipv4_address': '10.0.0.5'}, [{'subnet': '10.1.0.0/24'}], ['10.0.0.5']),
    ({'ipv6_address': 'fd00::5'}, [{'subnet': '10.1.0.0/24'}], []),
    ({'ipv4_address': '10.0.0.5'}, None, []),
])
def test_addresses_fit(settings, pools, lost):
    assert addresses_fit(settings, pools) == lost


def test_check_mode_makes_no_writes_and_predicts_every_action():
    web = {'Id': 'c' * 64, 'Name': '/web', 'State': {'Running': True},
           'NetworkSettings': {'Networks': {'changed': {'NetworkID': 'changed' + '-id' * 8,
                                                        'Aliases': ['www', 'c' * 12],
                                                        'IPAMConfig': {'IPv4Address': '10.0.0.5'}}}}}
    api = ReadOnlyApi([
        listing_entry('same', pools=[{'Subnet': '10.9.0.0/24', 'Gateway': '10.9.0.1'}]),
        listing_entry('changed', pools=[{'Subnet': '10.0.0.0/24'}]),
        listing_entry('gone'),
        listing_entry('stray'),
        listing_entry('not-ours', labels={}),
    ], containers=[web])
    params = dict(networks=[
        {'name': 'same', 'ipam_config': [{'subnet': '10.9.0.0/24'}]},
        {'name': 'changed', 'ipam_config': [{'subnet': '10.0.0.0/16'}], 'recreate': True},
        {'name': 'gone', 'state': 'absent'},
        {'name': 'new'},
    ], purge=True)
    result = run(DoubleClient(api), params, 'bridge', check_mode=True)
    assert result['changed'] is True
    assert [(a['network'], a['action']) for a in result['actions']] == [
        ('changed', 'recreate'), ('gone', 'remove'), ('new', 'create'), ('stray', 'remove')]
    assert result['actions'][0]['containers'] == ['web']
    assert result['diff']['before']['new'] is None
    assert result['diff']['after']['gone'] is None
    assert 'not-ours' not in result['diff']['before']
    assert result['diff']['before']['same'] == result['diff']['after']['same']


def test_recreation_without_consent_names_fields_and_containers():
    web = {'Id': 'c' * 64, 'Name': '/web', 'State': {'Running': True},
           'NetworkSettings': {'Networks': {'n': {'NetworkID': 'n' + '-id' * 8, 'Aliases': ['www']}}}}
    api = ReadOnlyApi([listing_entry('n', pools=[{'Subnet': '10.0.0.0/24'}])], containers=[web])
    with pytest.raises(FabricError) as info:
        run(DoubleClient(api), dict(name='n', ipam_config=[{'subnet': '10.1.0.0/24'}]), 'bridge', False)
    assert 'differs in ipam_config' in info.value.msg and 'web' in info.value.msg
    assert 'recreate: true' in info.value.msg
    assert info.value.details['containers'] == ['web']


def test_removal_with_containers_needs_force():
    web = {'Id': 'c' * 64, 'Name': '/web', 'State': {'Running': True},
           'NetworkSettings': {'Networks': {'n': {'NetworkID': 'n' + '-id' * 8}}}}
    api = ReadOnlyApi([listing_entry('n')], containers=[web])
    with pytest.raises(FabricError) as info:
        run(DoubleClient(api), dict(name='n', state='absent'), 'bridge', False)
    assert 'attached containers: web' in info.value.msg and 'force: true' in info.value.msg


def test_overlay_needs_a_manager():
    api = ReadOnlyApi([])
    api.info = lambda: {'Swarm': {'LocalNodeState': 'active', 'ControlAvailable': False}}
    with pytest.raises(FabricError) as info:
        run(DoubleClient(api), dict(name='o'), 'overlay', True)
    assert 'must run against a swarm manager' in info.value.msg and 'swarm worker' in info.value.msg


@pytest.mark.parametrize('engine, refused', [
    ({'Version': '20.10.24+dfsg1', 'ApiVersion': '1.41'}, True),
    ({'Version': '25.0.5', 'ApiVersion': '1.44'}, True),
    ({'Version': '26.1.5', 'ApiVersion': '1.45'}, False),
    ({'Version': '28.5.1', 'ApiVersion': '1.51'}, False),
    ({}, True),
    ({'ApiVersion': 'garbage'}, False),
])
def test_dual_stack_overlay_problem(engine, refused):
    assert (dual_stack_overlay_problem(engine) is not None) is refused


DUAL = dict(name='v6', enable_ipv6=True, ipam_config=[{'subnet': '10.81.0.0/24'}, {'subnet': 'fd00:81::/64'}])


@pytest.mark.parametrize('check_mode', [True, False])
def test_a_dual_stack_overlay_on_docker_20_10_is_refused_before_any_change(check_mode):
    api = ReadOnlyApi([])
    api.version = lambda api_version=True: {'Version': '20.10.24+dfsg1', 'ApiVersion': '1.41'}
    with pytest.raises(FabricError) as info:
        run(DoubleClient(api), dict(networks=[dict(name='plain'), DUAL]), 'overlay', check_mode)
    assert info.value.msg.startswith('network v6: Docker 20.10.24+dfsg1 (API 1.41) accepts enable_ipv6 on an overlay')
    assert 'Leave enable_ipv6 out (IPv4 only), or upgrade the engines.' in info.value.msg


def test_an_existing_dual_stack_overlay_is_warned_about_and_newer_engines_pass():
    existing = listing_entry('v6', driver='overlay', EnableIPv6=True, Scope='swarm',
                             pools=[{'Subnet': '10.81.0.0/24'}, {'Subnet': 'fd00:81::/64'}])
    api = ReadOnlyApi([existing])
    api.version = lambda api_version=True: {'Version': '20.10.24', 'ApiVersion': '1.41'}
    warnings = []
    result = Engine(DoubleClient(api), 'overlay', True, warn=warnings.append).run(DUAL)
    assert result['changed'] is False and len(warnings) == 1 and warnings[0].startswith('network v6 exists with enable_ipv6')
    api = ReadOnlyApi([])
    api.version = lambda api_version=True: {'Version': '26.1.5', 'ApiVersion': '1.45'}
    assert run(DoubleClient(api), DUAL, 'overlay', True)['changed'] is True


class RecordingApi(ReadOnlyApi):
    """Writes are recorded; creating a network with ``refuse_subnet`` fails like the daemon would."""

    def __init__(self, networks, containers=(), refuse_subnet=None, volumes=()):
        super().__init__(networks, containers=containers, volumes=volumes)
        self.calls = []
        self.refuse_subnet = refuse_subnet

    def _url(self, path, *args):
        return path.format(*args)

    def _post_json(self, url, data=None, params=None):
        subnets = [p['Subnet'] for p in (data.get('IPAM') or {}).get('Config') or []]
        if self.refuse_subnet in subnets:
            raise APIError('refused')
        self.calls.append(('create', data['Name'], subnets))
        return {'Id': 'new-' + data['Name']}

    def _result(self, response, json=False):
        return response

    def remove_network(self, network_id):
        self.calls.append(('remove', network_id))

    def create_volume(self, name, driver=None, labels=None):
        self.calls.append(('record', name))
        self._volumes.append({'Name': name, 'Labels': labels})

    def remove_volume(self, name, force=False):
        self.calls.append(('forget', name))
        self._volumes = [v for v in self._volumes if v['Name'] != name]

    def disconnect_container_from_network(self, container, network, force=False):
        self.calls.append(('disconnect', container[:1], network))

    def connect_container_to_network(self, container, network, **kwargs):
        self.calls.append(('connect', container[:1], network, kwargs))


class CallingClient(DoubleClient):
    def call(self, doing, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except APIError as exc:
            raise FabricError('%s: the Docker daemon answered: %s' % (doing, exc))


def test_failed_recreation_puts_the_network_and_its_containers_back():
    web = {'Id': 'c' * 64, 'Name': '/web', 'State': {'Running': True},
           'NetworkSettings': {'Networks': {'n': {'NetworkID': 'n' + '-id' * 8, 'Aliases': ['www'],
                                                  'IPAMConfig': {'IPv4Address': '10.0.0.5'}}}}}
    api = RecordingApi([listing_entry('n', pools=[{'Subnet': '10.0.0.0/24', 'Gateway': '10.0.0.1'}])],
                       containers=[web], refuse_subnet='10.0.0.0/16')
    with pytest.raises(FabricError) as info:
        run(CallingClient(api), dict(name='n', ipam_config=[{'subnet': '10.0.0.0/16'}], recreate=True),
            'bridge', False)
    assert 'put back as it was' in info.value.msg and 'refused' in info.value.msg
    record = ('record', recreation.volume_name('n'))
    assert api.calls == [
        record,
        ('disconnect', 'c', 'n' + '-id' * 8),
        ('remove', 'n' + '-id' * 8),
        ('create', 'n', ['10.0.0.0/24']),
        ('connect', 'c', 'new-n', {'aliases': ['www'], 'ipv4_address': '10.0.0.5'}),
        ('forget', record[1]),
    ]
    assert info.value.details['changed'] is True and len(info.value.details['done']) == 6


def test_recreation_reconnects_with_the_same_settings():
    web = {'Id': 'c' * 64, 'Name': '/web', 'State': {'Running': True},
           'NetworkSettings': {'Networks': {'n': {'NetworkID': 'n' + '-id' * 8, 'Aliases': ['www', 'c' * 12],
                                                  'Links': ['/db:/web/database'],
                                                  'IPAMConfig': {'IPv4Address': '10.0.0.5',
                                                                 'IPv6Address': 'fd00::5'}}}}}
    api = RecordingApi([listing_entry('n', pools=[{'Subnet': '10.0.0.0/24'}])], containers=[web])
    result = run(CallingClient(api), dict(name='n', labels={'new': 'label'}, recreate=True), 'bridge', False)
    assert result['changed'] is True
    assert api.calls[-1] == ('forget', recreation.volume_name('n'))
    assert api.calls[-2] == ('connect', 'c', 'new-n', {'aliases': ['www'], 'ipv4_address': '10.0.0.5',
                                                       'ipv6_address': 'fd00::5', 'links': [('db', 'database')]})


def test_refused_removal_reconnects_the_containers():
    web = {'Id': 'c' * 64, 'Name': '/web', 'State': {'Running': True},
           'NetworkSettings': {'Networks': {'n': {'NetworkID': 'n' + '-id' * 8, 'Aliases': ['www']}}}}
    api = RecordingApi([listing_entry('n')], containers=[web])

    def refuse(network_id):
        raise APIError('error while removing network: network n has active endpoints')
    api.remove_network = refuse
    with pytest.raises(FabricError) as info:
        run(CallingClient(api), dict(name='n', state='absent', force=True), 'bridge', False)
    assert 'containers on this host were reconnected' in info.value.msg and 'active endpoints' in info.value.msg
    assert api.calls == [('disconnect', 'c', 'n' + '-id' * 8),
                         ('connect', 'c', 'n' + '-id' * 8, {'aliases': ['www']})]


# ---------------------------------------------------------------- Docker 28: IPv6-only networks, gateway modes

@pytest.mark.parametrize('driver, params, existing, expected', [
    # Before API 1.48 there is no EnableIPv4: a network has IPv4.
    ('bridge', dict(enable_ipv4=True), listing_entry(), []),
    ('bridge', dict(enable_ipv4=True), listing_entry(EnableIPv4=True), []),
    ('bridge', dict(enable_ipv4=False, enable_ipv6=True), listing_entry(EnableIPv4=False, EnableIPv6=True), []),
    ('bridge', dict(enable_ipv4=False, enable_ipv6=True), listing_entry(EnableIPv4=True, EnableIPv6=True),
     ['enable_ipv4']),
    ('macvlan', dict(enable_ipv4=False, enable_ipv6=True, parent='mv0'),
     listing_entry(driver='macvlan', EnableIPv4=False, EnableIPv6=True, options={'parent': 'mv0'}), []),
    # Absent gateway mode: Docker's nat.
    ('bridge', dict(gateway_mode_ipv4='nat'), listing_entry(), []),
    ('bridge', dict(gateway_mode_ipv6='routed'),
     listing_entry(options={'com.docker.network.bridge.gateway_mode_ipv6': 'routed'}), []),
    ('bridge', dict(gateway_mode_ipv4='routed'),
     listing_entry(options={'com.docker.network.bridge.gateway_mode_ipv4': 'nat'}), ['gateway_mode_ipv4']),
    ('bridge', dict(gateway_mode_ipv4='nat'), listing_entry(
        options={'com.docker.network.bridge.gateway_mode_ipv4': 'nat-unprotected'}), ['gateway_mode_ipv4']),
])
def test_docker28_differences(driver, params, existing, expected):
    wanted = desired(driver, **params)
    assert differences(wanted, actual_view(existing, driver)) == expected


@pytest.mark.parametrize('driver, params, fragment', [
    ('bridge', dict(enable_ipv4=False), 'enable_ipv4: false makes an IPv6-only network and needs enable_ipv6: true'),
    ('macvlan', dict(enable_ipv4=False, enable_ipv6=True, ipam_config=[{'subnet': '10.9.0.0/24'}]),
     'ipam_config has the IPv4 subnet 10.9.0.0/24 but enable_ipv4 is false'),
    ('bridge', dict(enable_ipv4=False, enable_ipv6=True, gateway_mode_ipv4='nat'), 'gateway_mode_ipv4 is set but'),
    ('bridge', dict(gateway_mode_ipv4='isolated'), 'gateway_mode_ipv4 isolated needs internal: true'),
    ('bridge', dict(gateway_mode_ipv6='bogus'), 'gateway_mode_ipv6 must be one of nat, nat-unprotected, routed'),
])
def test_docker28_bad_input(driver, params, fragment):
    with pytest.raises(FabricError) as info:
        desired(driver, **params)
    assert fragment in info.value.msg


@pytest.mark.parametrize('params, gates', [
    (dict(), []),
    (dict(enable_ipv4=True), []),
    (dict(enable_ipv4=False, enable_ipv6=True), ['network.enable_ipv4']),
    (dict(gateway_mode_ipv4='nat', gateway_mode_ipv6='routed'), ['network.gateway_mode']),
    (dict(gateway_mode_ipv6='nat-unprotected'), ['network.gateway_mode', 'network.gateway_mode_28']),
    (dict(internal=True, gateway_mode_ipv4='isolated'), ['network.gateway_mode', 'network.gateway_mode_28']),
])
def test_docker28_gates(params, gates):
    assert gates_needed(desired('bridge', **params)['fields']) == gates


def test_docker28_create_body_and_restore():
    body = create_body(desired('bridge', enable_ipv4=False, enable_ipv6=True, gateway_mode_ipv6='routed',
                               ipam_config=[{'subnet': 'fd00:28::/64'}]), 'bridge')
    assert body['EnableIPv4'] is False and body['EnableIPv6'] is True
    assert body['Options'] == {'com.docker.network.bridge.gateway_mode_ipv6': 'routed'}
    # enable_ipv4 true is Docker's default: not sent, so older engines get the body they know.
    assert 'EnableIPv4' not in create_body(desired('bridge', enable_ipv4=True), 'bridge')
    restored = body_from_network(listing_entry(EnableIPv4=False, EnableIPv6=True))
    assert restored['EnableIPv4'] is False
    assert 'EnableIPv4' not in body_from_network(listing_entry(EnableIPv4=True))


def test_overlay_view_has_no_enable_ipv4():
    # Docker refuses to disable IPv4 on a swarm-scoped network; overlay_network has no such option.
    assert 'enable_ipv4' not in actual_view(listing_entry(driver='overlay'), 'overlay')
    assert 'enable_ipv4' not in network_spec('overlay')


@pytest.mark.parametrize('driver', ['bridge', 'overlay', 'macvlan'])
def test_changes_are_named_by_option(driver):
    """``actions[].changes`` lists the declared fields that differ: each is an option of the module."""
    params = {'name': 'n', 'ipam_config': [{'subnet': '10.0.0.0/24'}], 'ipam_driver': 'default', 'ipam_options': {},
              'enable_ipv6': False, 'internal': True, 'attachable': True, 'labels': {'a': 'b'}, 'options': {}}
    params.update(dict((option, None) for option in DRIVER_OPTIONS[driver]))
    fields = set(normalise_network(params, driver)['fields']) | set(DRIVER_OPTIONS[driver])
    if driver == 'macvlan':
        fields |= {'config_only', 'config_from'}
    assert fields <= set(network_spec(driver))


# ---------------------------------------------------------------- safety (issue 11)

def test_purge_removes_only_networks_of_its_own_owner():
    listing = [
        listing_entry('legacy'),  # made before the owner label: the default owner's
        listing_entry('mine', labels={OWNER_LABEL: 'true', OWNER_SCOPE_LABEL: 'demo'}),
        listing_entry('theirs', labels={OWNER_LABEL: 'true', OWNER_SCOPE_LABEL: 'tests'}),
    ]
    assert [n['Name'] for n in purge_candidates(listing, 'bridge', set())] == ['legacy']
    assert [n['Name'] for n in purge_candidates(listing, 'bridge', set(), owner='demo')] == ['mine']


@pytest.mark.parametrize('pools, containers, fragment', [
    ([{'subnet': '10.0.0.0/24', 'gateway': '10.0.0.5'}], {'web': '10.0.0.5'}, 'would be the gateway of 10.0.0.0/24'),
    ([{'subnet': '10.0.0.0/24'}], {'web': '10.0.0.1'}, 'gateway of 10.0.0.0/24 (Docker picks it)'),
    ([{'subnet': '10.0.0.0/24', 'aux_addresses': {'router': '10.0.0.7'}}], {'web': '10.0.0.7'},
     'auxiliary address router'),
    ([{'subnet': '10.0.0.0/24'}], {'web': '10.0.0.255'}, 'broadcast address'),
    ([{'subnet': 'fd00::/64'}], {'web6': 'fd00::1'}, 'gateway of fd00::/64'),
    ([{'subnet': '10.0.0.0/24'}], {'web': '10.0.0.9', 'db': '10.0.0.9'}, 'same static address 10.0.0.9'),
    ([{'subnet': '10.0.0.0/24'}], {'web': '10.0.0.9'}, None),
])
def test_address_conflicts_of_a_recreation(pools, containers, fragment):
    entries = [{'name': name.rstrip('6'), 'settings': {'ipv6_address' if name.endswith('6') else 'ipv4_address': ip}}
               for name, ip in containers.items()]
    found = address_conflicts(entries, pools)
    if fragment is None:
        assert found == []
    else:
        assert len(found) == 1 and fragment in found[0], found


@pytest.mark.parametrize('networks, fragment', [
    ([{'name': 'a', 'vxlan_ids': [99999999]}], 'outside 1..16777215'),
    ([{'name': 'a', 'vxlan_ids': [0]}], 'outside 1..16777215'),
    ([{'name': 'a', 'vxlan_ids': [5000, 5001], 'ipam_config': [{'subnet': '10.1.0.0/24'}]}],
     '2 vxlan_ids for 1 subnet'),
    ([{'name': 'a', 'vxlan_ids': [5000, 5000], 'ipam_config': [{'subnet': '10.1.0.0/24'}, {'subnet': '10.2.0.0/24'}]}],
     'an id twice'),
    ([{'name': 'a', 'vxlan_ids': [5000]}, {'name': 'b', 'vxlan_ids': [5000]}], 'both ask for VXLAN id 5000'),
    ([{'name': 'a', 'ipam_config': [{'subnet': '10.1.0.0/24'}]}, {'name': 'b', 'ipam_config': [{'subnet': '10.1.0.0/24'}]}],
     'overlapping subnets'),
    ([{'name': 'a', 'ipam_config': [{'subnet': '10.1.0.0/16'}]}, {'name': 'b', 'ipam_config': [{'subnet': '10.1.2.0/24'}]}],
     'overlapping subnets'),
])
def test_bad_overlay_lists_are_refused(networks, fragment):
    with pytest.raises(FabricError) as info:
        normalise_task(dict(networks=networks), 'overlay')
    assert fragment in info.value.msg


def test_a_removed_entry_may_share_a_subnet_and_good_lists_pass():
    normalise_task(dict(networks=[{'name': 'a', 'ipam_config': [{'subnet': '10.1.0.0/24'}], 'vxlan_ids': [5000]},
                                  {'name': 'b', 'ipam_config': [{'subnet': '10.1.0.0/24'}], 'state': 'absent'}]),
                   'overlay')


@pytest.mark.parametrize('driver, existing, fragment', [
    ('bridge', listing_entry('old', pools=[{'Subnet': '10.1.0.0/16'}]), 'overlaps subnet 10.1.0.0/16 of the existing network old'),
    ('overlay', listing_entry('old', driver='overlay', Scope='swarm', pools=[{'Subnet': '10.1.0.0/24'}]), 'overlaps'),
    ('overlay', listing_entry('old', driver='overlay', Scope='swarm',
                              options={'com.docker.network.driver.overlay.vxlanid_list': '5000'}), 'already used by network old'),
    # Another address space, a config-only network or the network itself: no conflict.
    ('bridge', listing_entry('old', driver='overlay', Scope='swarm', pools=[{'Subnet': '10.1.0.0/24'}]), None),
    ('bridge', listing_entry('old', driver='null', ConfigOnly=True, pools=[{'Subnet': '10.1.0.0/24'}]), None),
    ('bridge', listing_entry('a', pools=[{'Subnet': '10.1.0.0/24'}]), None),
])
def test_subnets_against_existing_networks(driver, existing, fragment):
    wanted = normalise_task(dict(networks=[dict({'name': 'a', 'ipam_config': [{'subnet': '10.1.0.0/24'}]},
                                                **({'vxlan_ids': [5000]} if driver == 'overlay' else {}))]), driver)
    if fragment is None:
        check_subnets(wanted, [existing], driver)
        return
    with pytest.raises(FabricError) as info:
        check_subnets(wanted, [existing], driver)
    assert fragment in info.value.msg


def test_oldest_network_comes_first_whatever_the_decimals():
    networks = [{'Id': 'b', 'Created': '2026-11-28T10:00:00.12Z'}, {'Id': 'a', 'Created': '2026-11-28T10:00:00.1Z'},
                {'Id': 'c', 'Created': '2026-11-28T10:00:00.1Z'}, {'Id': 'd', 'Created': '2026-11-28T09:59:59Z'}]
    assert [n['Id'] for n in oldest_first(networks)] == ['d', 'a', 'c', 'b']


def test_identical_empty_duplicates_are_removed_keeping_the_oldest():
    first = listing_entry('n', Created='2026-11-28T10:00:00.1Z')
    second = dict(listing_entry('n', Created='2026-11-28T10:00:00.2Z'), Id='zz' * 32)
    api = RecordingApi([second, first])
    result = run(CallingClient(api), dict(name='n'), 'bridge', False)
    assert result['changed'] is True
    assert api.calls == [('remove', 'zz' * 32)]
    assert result['duplicates_removed'] == [{'network': 'n', 'id': 'zz' * 32, 'kept': first['Id']}]


def test_duplicates_that_differ_are_not_touched():
    first = listing_entry('n', Created='2026-11-28T10:00:00.1Z')
    second = dict(listing_entry('n', Created='2026-11-28T10:00:00.2Z', Internal=True), Id='zz' * 32)
    with pytest.raises(FabricError) as info:
        run(CallingClient(RecordingApi([second, first])), dict(name='n', internal=False), 'bridge', False)
    assert '2 networks of that name' in info.value.msg
    foreign = dict(listing_entry('n', Created='2026-11-28T10:00:00.2Z', labels={}), Id='zz' * 32)
    with pytest.raises(FabricError):
        run(CallingClient(RecordingApi([foreign, first])), dict(name='n'), 'bridge', False)


def test_duplicates_with_subnets_docker_chose_are_still_duplicates():
    first = listing_entry('n', Created='2026-11-28T10:00:00.1Z', pools=[{'Subnet': '172.18.0.0/16'}])
    second = dict(listing_entry('n', Created='2026-11-28T10:00:00.2Z', pools=[{'Subnet': '172.19.0.0/16'}]),
                  Id='zz' * 32)
    api = RecordingApi([second, first])
    result = run(CallingClient(api), dict(networks=[{'name': 'n', 'state': 'absent'}]), 'bridge', False)
    assert api.calls == [('remove', 'zz' * 32), ('remove', first['Id'])]
    assert result['duplicates_removed'][0]['kept'] == first['Id']


def test_a_recorded_recreation_is_finished_first():
    web = {'Id': 'w' * 64, 'Name': '/web', 'NetworkSettings': {'Networks': {}}}
    db = {'Id': 'd' * 64, 'Name': '/db', 'NetworkSettings': {'Networks': {'n': {'NetworkID': 'n' + '-id' * 8}}}}
    old = listing_entry('n', pools=[{'Subnet': '10.0.0.0/24'}])
    record = {'Name': recreation.volume_name('n'), 'Labels': recreation.make_record(
        'n', 'bridge', body_from_network(old),
        [{'id': 'w' * 64, 'name': 'web', 'settings': {'aliases': ['www'], 'ipv4_address': '10.0.0.5'}},
         {'id': 'd' * 64, 'name': 'db', 'settings': {}},
         {'id': 'g' * 64, 'name': 'gone', 'settings': {}}])}
    api = RecordingApi([old], containers=[web, db], volumes=[record])

    def inspect(container_id):
        found = [c for c in (web, db) if c['Id'] == container_id]
        if not found:
            raise APIError('404', response=type('R', (), {'status_code': 404})())
        return found[0]
    api.inspect_container = inspect
    result = run(CallingClient(api), dict(name='n', ipam_config=[{'subnet': '10.0.0.0/24'}]), 'bridge', False)
    assert api.calls == [('connect', 'w', old['Id'], {'aliases': ['www'], 'ipv4_address': '10.0.0.5'}),
                         ('forget', recreation.volume_name('n'))]
    assert result['changed'] is True
    assert result['actions'] == [{'network': 'n', 'action': 'resume', 'containers': ['web'], 'gone': ['gone']}]


def test_a_container_that_cannot_rejoin_rolls_the_recreation_back():
    def on(name, ip=None):
        ipam = {'IPv4Address': ip} if ip else {}
        return {'Id': name * 64, 'Name': '/' + name, 'State': {'Running': True},
                'NetworkSettings': {'Networks': {'n': {'NetworkID': 'n' + '-id' * 8, 'IPAMConfig': ipam}}}}
    old = listing_entry('n', pools=[{'Subnet': '10.0.0.0/24', 'Gateway': '10.0.0.1'}])
    api = RecordingApi([old], containers=[on('a', '10.0.0.5'), on('b')])
    connect = api.connect_container_to_network

    refused = []

    def refuse_b_on_the_new_network(container, network, **kwargs):
        # The double gives the restored network the same id: refuse b once, on the new network only.
        if container.startswith('b') and network == 'new-n' and not refused:
            refused.append(container)
            raise APIError('no more addresses')
        connect(container, network, **kwargs)
    api.connect_container_to_network = refuse_b_on_the_new_network
    with pytest.raises(FabricError) as info:
        run(CallingClient(api), dict(name='n', labels={'v': '2'}, recreate=True), 'bridge', False)
    assert 'could not join it: b' in info.value.msg and 'put back as it was' in info.value.msg
    record = recreation.volume_name('n')
    assert api.calls == [
        ('record', record),
        ('disconnect', 'a', old['Id']), ('disconnect', 'b', old['Id']), ('remove', old['Id']),
        ('create', 'n', ['10.0.0.0/24']),
        ('connect', 'a', 'new-n', {'ipv4_address': '10.0.0.5'}),          # static first
        ('disconnect', 'a', 'new-n'), ('remove', 'new-n'),                  # roll back
        ('create', 'n', ['10.0.0.0/24']),
        ('connect', 'a', 'new-n', {'ipv4_address': '10.0.0.5'}), ('connect', 'b', 'new-n', {}),
        ('forget', record),
    ]
    assert info.value.details['changed'] is True


def test_a_worker_never_purges_a_swarm_wide_network():
    listing = [listing_entry('cfg', driver='null', ConfigOnly=True),
               listing_entry('lan', driver='macvlan', labels={}, ConfigFrom={'Network': 'cfg'}, Scope='swarm')]
    api = ReadOnlyApi(listing)
    api.info = lambda: {'Swarm': {'LocalNodeState': 'active', 'ControlAvailable': False}}
    result = run(DoubleClient(api), dict(networks=[{'name': 'cfg', 'config_only': True}], purge=True),
                 'macvlan', True)
    assert result['changed'] is False and result['actions'] == []


def test_removing_two_networks_of_one_service_reads_it_before_each_update(monkeypatch):
    a = listing_entry('a', driver='overlay', Scope='swarm')
    b = listing_entry('b', driver='overlay', Scope='swarm')
    service = {'ID': 's1', 'Version': {'Index': 1},
               'Spec': {'Name': 'web', 'TaskTemplate': {'Networks': [{'Target': a['Id']}, {'Target': b['Id']}]}}}
    api = RecordingApi([a, b])
    api.services = lambda: [service]
    api.inspect_service = lambda service_id: service
    posted = []
    api._post_json = lambda url, data=None, params=None: (
        posted.append((url, params['version'], [t['Target'] for t in data['TaskTemplate']['Networks']])),
        service.update({'Version': {'Index': service['Version']['Index'] + 1}, 'Spec': data}))
    monkeypatch.setattr(NetworkWrites, 'remove_when_released',
                        lambda self, name, network_id, seconds=60: api.remove_network(network_id))
    run(CallingClient(api), dict(networks=[{'name': 'a', 'state': 'absent'}, {'name': 'b', 'state': 'absent'}],
                                 force=True), 'overlay', False)
    assert posted == [('/services/s1/update', 1, [b['Id']]), ('/services/s1/update', 2, [])]


def test_a_network_another_run_created_meanwhile_is_taken_as_it_is():
    api = RecordingApi([])
    listings = iter([[], [listing_entry('n')]])
    api.networks = lambda: next(listings)

    def refuse(url, data=None, params=None):
        raise APIError('network with name n already exists')
    api._post_json = refuse
    result = run(CallingClient(api), dict(name='n'), 'bridge', False)
    assert result['changed'] is False and result['networks'] == [{'name': 'n', 'action': 'none', 'id': 'n' + '-id' * 8}]
