# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: pure decisions the roles make from live state, behind the filters of plugins/filter/swarm_roles.py.

Plain Python instead of Jinja programs in the roles, so each rule is tested by a table (tests/unit/roles).
"""

from __future__ import annotations

import ipaddress


def live_manager(hosts, infos, preferred=()):
    """The first of ``hosts`` whose swarm_info result (``infos[host]``) says it is a manager now.

    Hosts of ``preferred`` (the managers group) come first, in the order of ``hosts``; a host
    without a result (its dockerd did not answer, it was skipped) is never picked. '' when none is.
    """
    hosts = list(hosts or [])
    preferred = set(preferred or [])
    infos = infos or {}
    for host in [h for h in hosts if h in preferred] + [h for h in hosts if h not in preferred]:
        info = infos.get(host) or {}
        if isinstance(info, dict) and info.get('is_manager'):
            return host
    return ''


def _labels_match(current, desired, state):
    current = {str(k): str(v) for k, v in (current or {}).items()}
    desired = {str(k): str(v) for k, v in (desired or {}).items()}
    if state == 'replace':
        return current == desired
    return all(current.get(k) == v for k, v in desired.items())


def nodes_to_set(wanted, nodes):
    """The hosts whose node needs a swarm_node call: role or labels differ, or the node is not listed.

    ``wanted`` maps host -> {addr, role, labels, labels_state}; ``nodes`` is a manager's swarm_info
    node list (addr, role, labels), read before the joins: a node it does not hold (a new joiner,
    or any node when there is no listing) is always set. Order of ``wanted`` is kept.
    """
    out = []
    for host, want in (wanted or {}).items():
        node = _listed_node(nodes or [], want.get('addr'))
        if node is None:
            out.append(host)
            continue
        if node.get('role') != want.get('role') or not _labels_match(
                node.get('labels'), want.get('labels'), want.get('labels_state') or 'merge'):
            out.append(host)
    return out


def _listed_node(nodes, addr):
    """The one node of a listing at ``addr`` (a node that left and joined again is listed twice: the old one down)."""
    listed = [n for n in nodes if n.get('addr') == addr]
    listed = [n for n in listed if n.get('state') != 'down'] or listed
    return listed[0] if len(listed) == 1 else None


def memberships_from_listing(wanted, first_host, first):
    """Each host's swarm membership as one manager's node listing shows it, or {} when it cannot say.

    ``wanted`` maps each host of the play to its advertise address; ``first`` is the swarm_info result
    of ``first_host`` (the first listed manager). When that manager answers with a leader and lists every
    other host as a ready node (a manager also reachable), each host gets a result shaped like its own
    swarm_info would be (``first_host`` keeps its real one), so the bootstrap decision needs no read of
    every host. Any doubt (a host not listed, down, unreachable, no leader) gives {}: read every host.
    """
    if not isinstance(first, dict) or first.get('failed') or first.get('skipped'):
        return {}
    if first.get('local_node_state') != 'active' or not first.get('is_manager') or first.get('error'):
        return {}
    if first.get('leader_available') is False or not first.get('nodes'):
        return {}
    memberships = {}
    for host, addr in (wanted or {}).items():
        if host == first_host:
            memberships[host] = first
            continue
        node = _listed_node(first['nodes'], addr)
        if node is None or node.get('state') != 'ready':
            return {}
        manager = node.get('role') == 'manager'
        if manager and node.get('reachability') != 'reachable':
            return {}
        memberships[host] = {
            'local_node_state': 'active', 'is_manager': manager, 'node_id': node.get('id'),
            'node_addr': addr, 'hostname': node.get('hostname'),
            'cluster_id': first.get('cluster_id') if manager else None,
        }
        if manager:
            memberships[host]['leader_available'] = True
    return memberships if first_host in memberships else {}


def _join(items):
    return ', '.join(str(item) for item in items)


def _has_answered(info):
    """A swarm_info result that read the node (one that failed, or no result, has no local_node_state)."""
    return isinstance(info, dict) and 'local_node_state' in info


def bootstrap_plan(hosts, infos, managers, addrs=None, excluded=(), managers_group='', listen_port=2377):
    """How roles/swarm_cluster bootstraps, from every listed node's swarm_info result (run once).

    ``hosts`` are the listed nodes (managers then workers), ``infos`` maps host -> swarm_info result,
    ``managers`` the managers group, ``addrs`` host -> advertise address, ``excluded`` the listed hosts
    left out of the play (--limit): they are treated like hosts whose dockerd does not answer, never
    guessed about. The seed is a live manager (the managers group first) or, in no swarm at all, the
    first manager that answers (``init``); ``error`` says why nothing may be done (never a second swarm).
    """
    managers = list(managers or [])
    excluded = list(excluded or [])
    infos = infos or {}
    seed, error, init = None, '', False
    down, no_leader, in_swarm, clusters, members = [], [], [], [], {}
    for host in hosts or []:
        info = {} if host in excluded else infos.get(host, {})
        if not _has_answered(info):
            down.append(host)
            continue
        if info['local_node_state'] != 'inactive':
            in_swarm.append(host)
            members[host] = 'manager' if info.get('is_manager') else 'worker'
        if info.get('is_manager') and 'leader_available' in info and not info['leader_available']:
            no_leader.append(host)
            down.append(host)
        elif info.get('is_manager'):
            if info.get('cluster_id') and info['cluster_id'] not in clusters:
                clusters.append(info['cluster_id'])
            if seed is None or (seed not in managers and host in managers):
                seed = host
    managers_down = [h for h in managers if h in down]
    if len(clusters) > 1:
        error = ('The listed managers belong to different swarms (%s); merge them by hand (leave one) and re-run.'
                 % _join(clusters))
    elif seed is None and no_leader:
        error = ('Managers %s answer, but their swarm has no leader: quorum is lost (more than half of the managers '
                 'are down). Start the stopped managers; if they are gone for good, run docker swarm init '
                 '--force-new-cluster on one of these managers. No second swarm is initialised.' % _join(no_leader))
    elif seed is None and in_swarm:
        error = ('Nodes %s are in a swarm, but no listed node answers as one of its managers; refusing to initialise '
                 'a second swarm. Start a manager of that swarm or list one in %s.' % (_join(in_swarm), managers_group))
    elif seed is None and managers_down:
        error = ('Managers %s do not answer (or are left out of the play) and no other listed node is in a swarm: '
                 'they may hold one, so no swarm is initialised. Start their dockerd, or take them out of %s.'
                 % (_join(managers_down), managers_group))
    elif seed is None:
        seed = next((h for h in managers if h not in down), None)
        init = True
    return {
        'seed': seed,
        'init': init,
        'down': down,
        'unreachable': [h for h in down if h not in excluded + no_leader],
        'excluded': excluded,
        'no_leader': no_leader,
        'members': members,
        'cluster_id': clusters[0] if clusters else None,
        'remote_addrs': ['%s:%s' % ((addrs or {}).get(seed), listen_port)] if seed else [],
        'error': error,
    }


def nodes_missing(wanted, nodes):
    """The hosts of ``wanted`` (host -> {addr, role}) that no node of a swarm_info listing holds with that role.

    Nodes that are down (a node that left, or a stopped one) do not count. Order of ``wanted`` is kept.
    """
    live = [n for n in nodes or [] if n.get('state') != 'down']
    return [host for host, want in (wanted or {}).items()
            if not any(n.get('addr') == want.get('addr') and n.get('role') == want.get('role') for n in live)]


def node_lines(nodes):
    """A swarm_info node listing as lines: hostname, address, role, availability, state and ``leader``."""
    return ['%s %s %s %s %s%s' % (n.get('hostname'), n.get('addr'), n.get('role'), n.get('availability'), n.get('state'),
                                  ' leader' if n.get('leader') else '') for n in nodes or []]


def service_lines(declared, outcomes):
    """The declared services as lines to print, with what the run did to each.

    ``declared`` is the role's list (``networks`` as names or dicts with a name); ``outcomes`` the
    swarm_service result's ``services`` (``name``, ``action``, ``converged`` when waited for). A line:
    ``name: mode [xN][ (removed)], networks a, b, <action>[, converged | , NOT converged]``; the action
    ``none`` is shown as ``no change``.
    """
    by_name = {o.get('name'): o for o in outcomes or [] if isinstance(o, dict)}
    lines = []
    for service in declared or []:
        networks = [n.get('name') if isinstance(n, dict) else n for n in service.get('networks') or []]
        outcome = by_name.get(service.get('name'), {})
        action = outcome.get('action', 'none')
        converged = '' if 'converged' not in outcome else (', converged' if outcome['converged'] else ', NOT converged')
        lines.append('%s: %s%s%s, networks %s, %s%s' % (
            service.get('name'), service.get('mode', 'replicated'),
            ' x%s' % service['replicas'] if 'replicas' in service else '',
            ' (removed)' if service.get('state', 'present') == 'absent' else '',
            ', '.join(str(n) for n in networks) or 'none',
            'no change' if action == 'none' else action, converged))
    return lines


def _is_ip(text):
    # Not _values.is_ip: that module imports the Docker SDK (through _client), and the filters run in every
    # Ansible worker on the controller, where that import would cost each task about half a second.
    try:
        ipaddress.ip_address(str(text))
    except ValueError:
        return False
    return True


def host_problems(hosts, selves, managers, workers, managers_group='swarm_managers', workers_group='swarm_workers'):
    """What is wrong with the play's hosts for roles/swarm_cluster, as sentences ([] when nothing is).

    ``hosts`` are the hosts of the play, ``selves`` maps each to what it should be (its
    ``_swarm_cluster_self``: ``addr``, ``docker_host``, ``shared_controller``), ``managers`` and
    ``workers`` the two groups. Checked once for the whole play, before anything is read or changed:
    a manager of the group in the play, every host in exactly one group, a docker_host where the
    hosts share the controller, an IP address to advertise, and no address advertised twice.
    """
    hosts, managers, workers = list(hosts or []), list(managers or []), list(workers or [])
    selves = {h: (selves or {}).get(h) or {} for h in hosts}
    problems = []
    if not any(h in hosts for h in managers):
        problems.append("swarm_cluster needs at least one host of the group '%s' in the play (hosts left out with "
                        "--limit are not changed; a manager that answers must be in the play)." % managers_group)
    groups = "exactly one of the groups '%s' and '%s'" % (managers_group, workers_group)
    outside = [h for h in hosts if h not in managers and h not in workers]
    both = [h for h in hosts if h in managers and h in workers]
    if outside:
        problems.append('%s: not in %s.' % (_join(outside), groups))
    if both:
        problems.append('%s: in both groups; a host must be in %s.' % (_join(both), groups))
    no_socket = [h for h in hosts if selves[h].get('shared_controller') and not selves[h].get('docker_host')]
    if no_socket:
        problems.append('%s: swarm_cluster_docker_host (or docker_host) must be set when the hosts share the controller '
                        "(ansible_connection local; over SSH the default is the host's own socket)." % _join(no_socket))
    addrs = {h: selves[h].get('addr') or '' for h in hosts}
    not_ip = ['%s (%r)' % (h, addr) for h, addr in addrs.items() if not _is_ip(addr)]
    if not_ip:
        problems.append('%s: swarm_cluster_advertise_addr (or advertise_addr) must be an IP address.' % _join(not_ip))
    seen = {}
    for host, addr in addrs.items():
        if addr:
            seen.setdefault(addr, []).append(host)
    for addr, same in seen.items():
        if len(same) > 1:
            problems.append('%s: the same advertise address %s.' % (_join(same), addr))
    return problems
