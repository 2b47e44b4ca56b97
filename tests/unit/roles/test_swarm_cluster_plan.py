# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bootstrap decision of roles/swarm_cluster (templates/plan.yml.j2), by a table of live states.

The template is rendered with Ansible's own templating, as the role does, from each host's
swarm_info result; the one rule that matters most: never a second swarm.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core before 2.19 templates every string
    def trust_as_template(value):
        return value

PLAN = Path(__file__).resolve().parents[3] / 'roles' / 'swarm_cluster' / 'templates' / 'plan.yml.j2'

INACTIVE = {'local_node_state': 'inactive', 'is_manager': False, 'cluster_id': None}
DOWN = {'failed': True, 'msg': 'cannot connect'}


def manager(cluster='c1'):
    return {'local_node_state': 'active', 'is_manager': True, 'cluster_id': cluster}


WORKER = {'local_node_state': 'active', 'is_manager': False, 'cluster_id': None}


def plan(infos, managers=('n1', 'n2'), workers=('n3',), excluded=()):
    hosts = list(managers) + list(workers)
    hostvars = {h: {'__swarm_cluster_info': infos.get(h, INACTIVE),
                    '_swarm_cluster_self': {'addr': '10.0.0.%d' % (i + 1)}} for i, h in enumerate(hosts)}
    variables = {'hostvars': hostvars, '_swarm_cluster_hosts': hosts, '_swarm_cluster_managers': list(managers),
                 'swarm_cluster_managers_group': 'swarm_managers', 'swarm_cluster_listen_port': 2377,
                 '_swarm_cluster_excluded': list(excluded)}
    return yaml.safe_load(Templar(loader=DataLoader(), variables=variables).template(trust_as_template(PLAN.read_text())))


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
