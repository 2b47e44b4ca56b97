# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: network_policy's compiler: an allow-list of members -> the Docker networks that carry it.

Pure functions only (no daemon), tested by tables. Docker networks are
symmetric and carry every port, so an allowed pair is an undirected edge of a
graph whose vertices are the members. Every network is a clique of that graph
(everyone on a network reaches everyone else on it); the compiler covers the
edges with as few cliques as a greedy cover finds, so no member ever shares a
network with a member it may not reach. Every choice is made in the order of
member names, never of the input, so the same policy always gives the same
networks.
"""

from __future__ import annotations

import hashlib
import re

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError

# The ownership scope: a network carrying this label with the policy's name belongs to that policy.
POLICY_LABEL = 'docknet.fabric.policy'
MEMBERS_LABEL = 'docknet.fabric.policy.members'
PURPOSE_LABEL = 'docknet.fabric.policy.purpose'

_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')
MAX_POLICY_NAME = 24
MAX_MEMBER_NAME = 32
# Longer readable names get a hash instead (Docker accepts long names; people and `docker network ls` do not).
MAX_NETWORK_NAME = 63
SELECTOR_KEYS = ('services', 'service_labels', 'containers', 'container_labels')


# ---------------------------------------------------------------- input

def _labels(value, where):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FabricError('%s must be a mapping of label to value (null: any value).' % where)
    return dict((str(k), None if v is None else str(v)) for k, v in value.items())


def _names(value, where):
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise FabricError('%s must be a list of names.' % where)
    return [v.strip() for v in value]


def normalise_member(entry, index):
    """One entry of ``members`` -> {name, services, service_labels, containers, container_labels, hosts}."""
    if not isinstance(entry, dict):
        raise FabricError('members[%d] must be a dict with a name and a selector, not %r.' % (index, entry))
    name = str(entry.get('name') or '').strip()
    if not name or not _NAME.match(name) or len(name) > MAX_MEMBER_NAME:
        raise FabricError('members[%d]: name %r must be 1-%d letters, digits, "_", "." or "-" (it becomes part of '
                          'network names).' % (index, entry.get('name'), MAX_MEMBER_NAME))
    where = 'member %s' % name
    member = {
        'name': name,
        'services': _names(entry.get('services'), where + ': services'),
        'service_labels': _labels(entry.get('service_labels'), where + ': service_labels'),
        'containers': _names(entry.get('containers'), where + ': containers'),
        'container_labels': _labels(entry.get('container_labels'), where + ': container_labels'),
        'hosts': _names(entry.get('hosts'), where + ': hosts'),
    }
    if not any(member[key] for key in SELECTOR_KEYS):
        raise FabricError('%s selects nothing: give services or service_labels (swarm services), and/or containers '
                          'or container_labels (plain containers, on hosts).' % where)
    if member['hosts'] and not (member['containers'] or member['container_labels']):
        raise FabricError('%s: hosts says where to find plain containers; give containers or container_labels too, '
                          'or leave hosts out.' % where)
    return member


def _allow_targets(entry, index):
    if not isinstance(entry, dict) or set(entry) - {'from', 'to'} or 'from' not in entry or 'to' not in entry:
        raise FabricError('allow[%d] must be {from: <member>, to: <member or list of members>}, not %r.'
                          % (index, entry))
    source = str(entry['from']).strip()
    targets = entry['to'] if isinstance(entry['to'], list) else [entry['to']]
    return source, [str(t).strip() for t in targets]


def normalise_policy(params):
    """Module parameters -> the policy, checked before any API call."""
    name = str(params.get('name') or '').strip()
    if not _NAME.match(name) or len(name) > MAX_POLICY_NAME:
        raise FabricError('name %r must be 1-%d letters, digits, "_", "." or "-": it starts the names of the '
                          'policy\'s networks.' % (params.get('name'), MAX_POLICY_NAME))
    members = {}
    for index, entry in enumerate(params.get('members') or []):
        member = normalise_member(entry, index)
        if member['name'] in members:
            raise FabricError('member %s is declared twice; give each member once.' % member['name'])
        members[member['name']] = member
    declared = set()
    for index, entry in enumerate(params.get('allow') or []):
        source, targets = _allow_targets(entry, index)
        for target in targets:
            for who in (source, target):
                if who not in members:
                    raise FabricError('allow[%d]: %s is not a member; declare it under members first.' % (index, who))
            if source == target:
                raise FabricError('allow[%d]: %s to itself; a member always reaches itself, leave it out.'
                                  % (index, source))
            declared.add((source, target))
    egress = sorted(set(_names(params.get('egress'), 'egress')))
    for who in egress:
        if who not in members:
            raise FabricError('egress: %s is not a member; declare it under members first.' % who)
    return {
        'name': name,
        'members': members,
        'declared': sorted(declared),
        'edges': sorted(set(tuple(sorted(pair)) for pair in declared)),
        'egress': egress,
        'strict': params.get('strict', True) is not False,
    }


# ---------------------------------------------------------------- the cover

def clique_cover(members, edges):
    """Cliques of the graph (members, edges) that together hold every edge: a greedy cover.

    Each round starts from the member with the most edges not yet covered and
    grows a clique, adding the member (adjacent to all of the clique) that
    covers the most uncovered edges. Ties go to the smaller name, so the input
    order never matters. Cliques whose edges the others also cover are dropped.
    """
    adjacent = dict((m, set()) for m in members)
    for a, b in edges:
        adjacent[a].add(b)
        adjacent[b].add(a)
    uncovered = set(frozenset(e) for e in edges)

    def open_degree(member):
        return sum(1 for e in uncovered if member in e)

    cliques = []
    while uncovered:
        start = min((m for m in members if open_degree(m)), key=lambda m: (-open_degree(m), m))
        clique = [start]
        candidates = set(adjacent[start])
        while True:
            best, best_key = None, None
            for candidate in candidates:
                gain = sum(1 for m in clique if frozenset((m, candidate)) in uncovered)
                if not gain:
                    continue
                key = (-gain, -open_degree(candidate), candidate)
                if best_key is None or key < best_key:
                    best, best_key = candidate, key
            if best is None:
                break
            clique.append(best)
            candidates &= adjacent[best]
        clique = frozenset(clique)
        uncovered -= set(frozenset((a, b)) for a in clique for b in clique if a != b)
        cliques.append(clique)
    # A later clique may have covered every edge of an earlier one.
    for clique in sorted(cliques, key=lambda c: (len(c), sorted(c))):
        others = [c for c in cliques if c is not clique]
        pairs = set(frozenset((a, b)) for a in clique for b in clique if a != b)
        if all(any(pair <= other for other in others) for pair in pairs):
            cliques.remove(clique)
    return sorted((sorted(c) for c in cliques), key=lambda c: (c, len(c)))


def _short_hash(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:10]


def network_names(policy_name, groups):
    """Stable, readable names: <policy>_<member>_<member>..., hashed when long or ambiguous.

    ``groups`` are (purpose, sorted members); egress networks are <policy>_egress_<member>.
    """
    def readable(purpose, members):
        middle = 'egress_%s' % members[0] if purpose == 'egress' else '_'.join(members)
        return '%s_%s' % (policy_name, middle)

    def hashed(purpose, members):
        return '%s_%s_%s' % (policy_name, purpose, _short_hash('%s:%s' % (purpose, ','.join(members))))

    names = [readable(p, m) for p, m in groups]
    out = []
    for (purpose, members), name in zip(groups, names):
        if len(name) > MAX_NETWORK_NAME or names.count(name) > 1:
            name = hashed(purpose, members)
        out.append(name)
    return out


def compile_policy(policy):
    """The networks of a policy, who is on which, and the expected matrix."""
    members = sorted(policy['members'])
    cliques = clique_cover(members, policy['edges'])
    groups = [('allow', c) for c in cliques] + [('egress', [m]) for m in policy['egress']]
    names = network_names(policy['name'], groups)
    networks = []
    for (purpose, group), name in zip(groups, names):
        networks.append({
            'name': name,
            'purpose': purpose,
            'members': list(group),
            # Only the egress networks have a way out of the swarm.
            'internal': purpose != 'egress',
            'labels': {POLICY_LABEL: policy['name'], MEMBERS_LABEL: ','.join(group), PURPOSE_LABEL: purpose},
        })
    networks.sort(key=lambda n: n['name'])
    membership = dict((m, sorted(n['name'] for n in networks if m in n['members'])) for m in members)
    return {
        'name': policy['name'],
        'networks': networks,
        'membership': membership,
        'matrix': matrix(members, policy['edges'], policy['declared'], networks),
        'mermaid': mermaid(policy['name'], members, networks),
    }


def matrix(members, edges, declared, networks):
    """Every ordered pair of members: allowed or denied, through which networks, and whether it was declared.

    A pair declared one way is allowed both ways (Docker networks are symmetric): ``declared`` tells.
    """
    edge_set = set(frozenset(e) for e in edges)
    declared = set(tuple(d) for d in declared)
    rows = []
    for source in members:
        for target in members:
            if source == target:
                continue
            allowed = frozenset((source, target)) in edge_set
            rows.append({
                'from': source,
                'to': target,
                'allowed': allowed,
                'declared': (source, target) in declared,
                'networks': sorted(n['name'] for n in networks
                                   if n['purpose'] == 'allow' and source in n['members'] and target in n['members']),
            })
    return rows


def _mermaid_id(prefix, index):
    return '%s%d' % (prefix, index)


def mermaid(policy_name, members, networks):
    """A Mermaid flowchart: members, an edge per allowed pair labelled with its network, egress to the outside."""
    ids = dict((m, _mermaid_id('m', i)) for i, m in enumerate(members))
    lines = ['flowchart LR', '  %%%% policy %s: an edge is an allowed pair (both ways); no edge: denied' % policy_name]
    for member in members:
        lines.append('  %s(["%s"])' % (ids[member], member))
    has_egress = any(n['purpose'] == 'egress' for n in networks)
    if has_egress:
        lines.append('  outside(("outside the swarm"))')
    for network in networks:
        group = network['members']
        if network['purpose'] == 'egress':
            lines.append('  %s -->|%s| outside' % (ids[group[0]], network['name']))
            continue
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                lines.append('  %s <-->|%s| %s' % (ids[a], network['name'], ids[b]))
    return '\n'.join(lines) + '\n'


# ---------------------------------------------------------------- leaks and plans

def find_leaks(member_networks, edges):
    """Pairs of members that share a network outside the policy although the policy does not allow them.

    ``member_networks``: {member: {network key: network name}} of the networks
    outside the policy (keys tell apart local networks of different hosts).
    """
    edge_set = set(frozenset(e) for e in edges)
    members = sorted(member_networks)
    leaks = []
    for i, a in enumerate(members):
        for b in members[i + 1:]:
            if frozenset((a, b)) in edge_set:
                continue
            shared = set(member_networks[a]) & set(member_networks[b])
            for key in sorted(shared, key=lambda k: (member_networks[a][k], str(k))):
                leaks.append({'members': [a, b], 'network': member_networks[a][key]})
    return leaks


def plan_unit(current, desired):
    """A service's or container's policy networks now and wanted -> (join, leave), both sorted."""
    current, desired = set(current), set(desired)
    return sorted(desired - current), sorted(current - desired)


def describe_leaks(leaks, limit=6):
    text = '; '.join('%s and %s share %s' % (leak['members'][0], leak['members'][1], leak['network'])
                     for leak in leaks[:limit])
    if len(leaks) > limit:
        text += '; and %d more' % (len(leaks) - limit)
    return text
