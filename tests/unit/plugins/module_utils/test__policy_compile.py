# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_policy's compiler, by tables: cover size, stable names, symmetry, isolation, egress, leaks."""

from __future__ import annotations

import itertools
import random

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._policy_compile import (
    MAX_NETWORK_NAME,
    POLICY_LABEL,
    clique_cover,
    compile_policy,
    find_leaks,
    mermaid,
    network_names,
    normalise_policy,
    plan_unit,
)


def params(members, allow, egress=(), name='p', **extra):
    out = {'name': name, 'members': [{'name': m, 'services': [m]} for m in members],
           'allow': [{'from': a, 'to': b} for a, b in allow], 'egress': list(egress)}
    out.update(extra)
    return out


def compiled(members, allow, egress=(), name='p'):
    return compile_policy(normalise_policy(params(members, allow, egress, name)))


def complete(members):
    return list(itertools.combinations(members, 2))


# name, members, allowed pairs, the number of networks a good cover gives
COVERS = [
    ('nothing allowed', 'abc', [], 0),
    ('one pair', 'ab', [('a', 'b')], 1),
    ('a chain', 'abc', [('a', 'b'), ('b', 'c')], 2),
    ('a triangle is one network', 'abc', complete('abc'), 1),
    ('complete graph of 6', 'abcdef', complete('abcdef'), 1),
    ('a star', 'habcd', [('h', x) for x in 'abcd'], 4),
    ('two triangles sharing a member', 'abcde', complete('abc') + complete('cde'), 2),
    ('a square (4-cycle)', 'abcd', [('a', 'b'), ('b', 'c'), ('c', 'd'), ('d', 'a')], 4),
    ('K4 minus one edge', 'abcd', [p for p in complete('abcd') if p != ('a', 'd')], 2),
    ('two disjoint K3', 'abcxyz', complete('abc') + complete('xyz'), 2),
    ('K3 plus a pendant', 'abcd', complete('abc') + [('c', 'd')], 2),
]


@pytest.mark.parametrize('case, members, allow, size', COVERS, ids=[c[0] for c in COVERS])
def test_cover_size(case, members, allow, size):
    result = compiled(list(members), allow)
    assert len(result['networks']) == size, (case, result['networks'])


@pytest.mark.parametrize('case, members, allow, size', COVERS, ids=[c[0] for c in COVERS])
def test_every_allowed_pair_shares_a_network_and_no_denied_pair_does(case, members, allow, size):
    result = compiled(list(members), allow)
    allowed = set(frozenset(p) for p in allow)
    for a, b in itertools.combinations(members, 2):
        shared = [n for n in result['networks'] if a in n['members'] and b in n['members']]
        assert bool(shared) == (frozenset((a, b)) in allowed), (case, a, b, shared)


@pytest.mark.parametrize('case, members, allow, size', COVERS, ids=[c[0] for c in COVERS])
def test_the_same_networks_in_any_order_of_the_input(case, members, allow, size):
    reference = compiled(list(members), allow)
    rng = random.Random(size * 7 + len(members))
    for dummy in range(6):
        shuffled_members = list(members)
        rng.shuffle(shuffled_members)
        shuffled_allow = [tuple(reversed(p)) if rng.random() < 0.5 else p for p in allow]
        rng.shuffle(shuffled_allow)
        again = compiled(shuffled_members, shuffled_allow)
        assert again['networks'] == reference['networks']
        assert again['mermaid'] == reference['mermaid']


def test_a_pair_declared_one_way_is_allowed_both_ways_and_the_matrix_says_so():
    result = compiled(['web', 'api', 'db'], [('web', 'api'), ('api', 'db')])
    cells = dict(((r['from'], r['to']), r) for r in result['matrix'])
    assert len(cells) == 6   # every ordered pair, no member to itself
    assert cells[('web', 'api')]['allowed'] and cells[('web', 'api')]['declared']
    assert cells[('api', 'web')]['allowed'] and not cells[('api', 'web')]['declared']
    assert not cells[('db', 'web')]['allowed'] and not cells[('web', 'db')]['allowed']
    assert cells[('api', 'db')]['networks'] == ['p_api_db']
    assert all(cells[(a, b)]['allowed'] == cells[(b, a)]['allowed'] for a, b in cells)


def test_the_demo_policy():
    result = compiled(['web', 'api', 'db'], [('web', 'api'), ('api', 'db')], egress=['web'], name='demo')
    assert [(n['name'], n['members'], n['internal']) for n in result['networks']] == [
        ('demo_api_db', ['api', 'db'], True),
        ('demo_api_web', ['api', 'web'], True),
        ('demo_egress_web', ['web'], False),
    ]
    assert result['membership'] == {'api': ['demo_api_db', 'demo_api_web'], 'db': ['demo_api_db'],
                                    'web': ['demo_api_web', 'demo_egress_web']}
    network = result['networks'][0]
    assert network['labels'][POLICY_LABEL] == 'demo'


def test_egress_is_a_network_of_its_own_and_the_only_non_internal_one():
    result = compiled(['a', 'b', 'c'], complete('abc'), egress=['b', 'c'])
    egress = [n for n in result['networks'] if not n['internal']]
    assert [(n['name'], n['members']) for n in egress] == [('p_egress_b', ['b']), ('p_egress_c', ['c'])]
    assert all(n['purpose'] == 'egress' for n in egress)
    assert [n['members'] for n in result['networks'] if n['internal']] == [['a', 'b', 'c']]


def test_a_member_with_no_allowed_pair_is_on_no_network():
    result = compiled(['a', 'b', 'lonely'], [('a', 'b')])
    assert result['membership']['lonely'] == []


def test_long_or_ambiguous_names_are_hashed_stably():
    long_members = ['m%02d-%s' % (i, 'x' * 20) for i in range(3)]
    names = network_names('p', [('allow', long_members)])
    assert len(names[0]) <= MAX_NETWORK_NAME and names[0].startswith('p_allow_')
    assert names == network_names('p', [('allow', long_members)])
    clash = network_names('p', [('allow', ['a_b', 'c']), ('allow', ['a', 'b_c'])])
    assert len(set(clash)) == 2 and all(n.startswith('p_allow_') for n in clash)


def test_cover_prefers_big_cliques():
    assert clique_cover(list('abcd'), complete('abcd')) == [['a', 'b', 'c', 'd']]


def test_mermaid_draws_members_pairs_and_egress():
    text = compiled(['web', 'api'], [('web', 'api')], egress=['web'], name='d')['mermaid']
    assert text.splitlines()[0] == 'flowchart LR'
    assert '%% policy d' in text
    assert 'm0 <-->|d_api_web| m1' in text and 'm1 -->|d_egress_web| outside' in text
    assert mermaid('x', ['a'], []).count('outside') == 0


@pytest.mark.parametrize('given, message', [
    (params(['a'], [], name=''), "name '' must be 1-24 letters"),
    (params(['a'], [], name='has space'), "name 'has space' must be"),
    (dict(params([], []), members=[{'name': 'a'}]), 'member a selects nothing'),
    (dict(params([], []), members=[{'name': 'a', 'hosts': ['h']}]), 'member a selects nothing'),
    (dict(params([], []), members=[{'name': 'a', 'services': ['s'], 'hosts': ['h']}]),
     'member a: hosts says where to find plain containers'),
    (dict(params([], []), members=[{'name': 'a b', 'services': ['x']}]), "members[0]: name 'a b' must be"),
    (params(['a', 'a'], []), 'member a is declared twice'),
    (params(['a'], [('a', 'b')]), 'allow[0]: b is not a member'),
    (params(['a'], [('a', 'a')]), 'allow[0]: a to itself'),
    (params(['a'], [], egress=['z']), 'egress: z is not a member'),
    (dict(params(['a', 'b'], []), allow=[{'from': 'a'}]), 'allow[0] must be {from: <member>'),
    (dict(params([], []), members=[{'name': 'a', 'service_labels': ['x']}]), 'member a: service_labels must be a mapping'),
])
def test_bad_input_fails_with_one_line(given, message):
    with pytest.raises(FabricError) as caught:
        normalise_policy(given)
    assert caught.value.msg.startswith(message), caught.value.msg
    assert '\n' not in caught.value.msg


def test_to_takes_a_list():
    policy = normalise_policy(dict(params(['a', 'b', 'c'], []), allow=[{'from': 'a', 'to': ['b', 'c']}]))
    assert policy['edges'] == [('a', 'b'), ('a', 'c')]


LEAKS = [
    ('no shared network', {'a': {'n1': 'one'}, 'b': {'n2': 'two'}}, [], []),
    ('shared, not allowed', {'a': {'n1': 'front'}, 'b': {'n1': 'front'}}, [],
     [{'members': ['a', 'b'], 'network': 'front'}]),
    ('shared, allowed', {'a': {'n1': 'front'}, 'b': {'n1': 'front'}}, [('a', 'b')], []),
    ('same bridge name on two hosts is not shared',
     {'a': {('h1', 'x'): 'bridge'}, 'b': {('h2', 'y'): 'bridge'}}, [], []),
    ('one leak per network', {'a': {'n1': 'front', 'n2': 'back'}, 'b': {'n1': 'front', 'n2': 'back'}, 'c': {}},
     [], [{'members': ['a', 'b'], 'network': 'back'}, {'members': ['a', 'b'], 'network': 'front'}]),
]


@pytest.mark.parametrize('case, networks, edges, expected', LEAKS, ids=[c[0] for c in LEAKS])
def test_leaks(case, networks, edges, expected):
    assert find_leaks(networks, edges) == expected, case


@pytest.mark.parametrize('current, desired, expected', [
    ([], ['a'], (['a'], [])),
    (['a', 'b'], ['b', 'c'], (['c'], ['a'])),
    (['a'], ['a'], ([], [])),
    (['x'], [], ([], ['x'])),
])
def test_plan_unit(current, desired, expected):
    assert plan_unit(current, desired) == expected
