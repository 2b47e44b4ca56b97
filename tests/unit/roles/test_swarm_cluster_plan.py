# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bootstrap decision of roles/swarm_cluster (filter docknet.fabric.swarm_bootstrap_plan), by a table of live states.

The filter gets each host's swarm_info result, as the role's tasks/state.yml passes it; the one rule
that matters most: never a second swarm.
"""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.filter.swarm_roles import FilterModule

swarm_bootstrap_plan = FilterModule().filters()['swarm_bootstrap_plan']

INACTIVE = {'local_node_state': 'inactive', 'is_manager': False, 'cluster_id': None}
DOWN = {'failed': True, 'msg': 'cannot connect'}


def manager(cluster='c1'):
    return {'local_node_state': 'active', 'is_manager': True, 'cluster_id': cluster}


WORKER = {'local_node_state': 'active', 'is_manager': False, 'cluster_id': None}


def plan(infos, managers=('n1', 'n2'), workers=('n3',), excluded=()):
    hosts = list(managers) + list(workers)
    addrs = {h: '10.0.0.%d' % (i + 1) for i, h in enumerate(hosts)}
    return swarm_bootstrap_plan(hosts, {h: infos.get(h, INACTIVE) for h in hosts}, list(managers), addrs=addrs,
                                excluded=list(excluded), managers_group='swarm_managers', listen_port=2377)


@pytest.mark.parametrize('infos, seed, init, error', [
    ({}, 'n1', True, ''),                                                       # fresh: init on the first manager
    ({'n2': manager()}, 'n2', False, ''),                                       # a swarm exists: join it
    ({'n1': DOWN, 'n2': manager(), 'n3': WORKER}, 'n2', False, ''),             # first manager stopped
    ({'n3': manager()}, 'n3', False, ''),                                       # only a listed worker manages it
    ({'n1': manager(), 'n3': manager()}, 'n1', False, ''),                      # managers group preferred
    ({'n1': DOWN}, None, False, 'do not answer'),                               # may hold a swarm: no init
    ({'n1': DOWN, 'n3': WORKER}, None, False, 'no listed node answers'),        # swarm without a manager
    ({'n1': manager('c1'), 'n2': manager('c2')}, 'n1', False, 'different swarms'),
])
def test_bootstrap_decision(infos, seed, init, error):
    result = plan(infos)
    if error:
        assert error in result['error'], result
        assert result['init'] is False
    else:
        assert result['error'] == '', result
        assert result['seed'] == seed and result['init'] is init, result
        assert result['remote_addrs'] == ['10.0.0.%d:2377' % (['n1', 'n2', 'n3'].index(seed) + 1)]


def test_down_and_members_are_reported():
    result = plan({'n1': DOWN, 'n2': manager(), 'n3': WORKER})
    assert result['down'] == ['n1']
    assert result['members'] == {'n2': 'manager', 'n3': 'worker'}
    assert result['cluster_id'] == 'c1'


NO_LEADER = dict(manager(), leader_available=False, error='The swarm does not have a leader.')


@pytest.mark.parametrize('infos, excluded, seed, error', [
    # --limit 'all:!n1' with n1 dead: n2 answers as a manager, so it leads; nothing is guessed about n1.
    ({'n2': manager(), 'n3': WORKER}, ['n1'], 'n2', ''),
    # n1 left out although it answers (its info is stale from another play): still not used.
    ({'n1': manager(), 'n2': manager(), 'n3': WORKER}, ['n1'], 'n2', ''),
    # Only the left-out manager could hold the swarm: never a second swarm.
    ({'n3': INACTIVE}, ['n1', 'n2'], None, 'left out of the play'),
    ({'n3': WORKER}, ['n1'], None, 'no listed node answers'),
])
def test_hosts_left_out_of_the_play(infos, excluded, seed, error):
    result = plan(infos, excluded=excluded)
    assert result['excluded'] == excluded
    assert all(h in result['down'] for h in excluded)
    assert result['unreachable'] == [h for h in result['down'] if h not in excluded]
    if error:
        assert error in result['error'] and result['init'] is False, result
    else:
        assert result['error'] == '' and result['seed'] == seed and result['init'] is False, result


def test_lost_quorum_is_reported_as_no_leader():
    result = plan({'n1': NO_LEADER, 'n2': DOWN, 'n3': WORKER})
    assert result['no_leader'] == ['n1'] and result['unreachable'] == ['n2']
    assert 'no leader' in result['error'] and 'quorum' in result['error'] and result['init'] is False


# The messages word for word, as the role printed them when the plan was a Jinja template.
@pytest.mark.parametrize('infos, excluded, message', [
    ({'n1': manager('c1'), 'n2': manager('c2')}, [],
     'The listed managers belong to different swarms (c1, c2); merge them by hand (leave one) and re-run.'),
    ({'n1': NO_LEADER, 'n2': NO_LEADER}, [],
     'Managers n1, n2 answer, but their swarm has no leader: quorum is lost (more than half of the managers are down).'
     ' Start the stopped managers; if they are gone for good, run docker swarm init --force-new-cluster on one of'
     ' these managers. No second swarm is initialised.'),
    ({'n1': DOWN, 'n2': WORKER, 'n3': WORKER}, [],
     'Nodes n2, n3 are in a swarm, but no listed node answers as one of its managers; refusing to initialise a second'
     ' swarm. Start a manager of that swarm or list one in swarm_managers.'),
    ({'n2': DOWN}, ['n1'],
     'Managers n1, n2 do not answer (or are left out of the play) and no other listed node is in a swarm: they may'
     ' hold one, so no swarm is initialised. Start their dockerd, or take them out of swarm_managers.'),
])
def test_error_messages(infos, excluded, message):
    result = plan(infos, excluded=excluded)
    assert result['error'] == message and result['init'] is False


@pytest.mark.parametrize('infos, seed, init, down', [
    ({'n1': None, 'n2': {}}, None, False, ['n1', 'n2']),                     # no result at all: does not answer
    ({'n1': DOWN}, None, False, ['n1']),
    ({'n1': NO_LEADER, 'n2': manager()}, 'n2', False, ['n1']),                # a manager with a leader answers
    ({'n1': DOWN, 'n2': INACTIVE, 'n3': INACTIVE}, None, False, ['n1']),      # n1 may hold a swarm
    ({'n1': INACTIVE, 'n2': INACTIVE, 'n3': DOWN}, 'n1', True, ['n3']),       # a worker down does not stop init
    ({'n3': manager(), 'n2': manager()}, 'n2', False, []),                   # the managers group first
    ({'n1': dict(manager(), leader_available=True)}, 'n1', False, []),
])
def test_seed_and_down(infos, seed, init, down):
    result = plan(infos)
    assert (result['seed'], result['init'], result['down']) == (seed, init, down), result


def test_the_whole_plan_of_a_fresh_swarm():
    result = plan({'n1': DOWN}, managers=('n0', 'n1', 'n2'), excluded=['n0'])   # any manager silent: no init
    assert result['error'].startswith('Managers n0, n1 do not answer') and result['seed'] is None
    result = plan({}, managers=('n1', 'n2'), workers=())
    assert result == {'seed': 'n1', 'init': True, 'down': [], 'unreachable': [], 'excluded': [], 'no_leader': [],
                      'members': {}, 'cluster_id': None, 'remote_addrs': ['10.0.0.1:2377'], 'error': ''}
