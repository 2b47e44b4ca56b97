# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: network_policy's engine: read the members and their networks, refuse leaks, apply the compiled policy.

The cycle: normalise and compile the policy (``_policy_compile``, pure) ->
read the swarm's networks and services and the selected plain containers of
each host -> find the members and the policy networks each one is on ->
refuse leaks (with ``strict``) and networks of the same name that are not the
policy's -> plan joins and leaves -> apply through the collection's engines:

1. the overlays through the network engine (``_network``), also in check mode,
   which plans without writing;
2. every service and container joins its new networks (services by a partial
   update of their networks only, through ``_service``; containers through
   ``_attachments``);
3. only then they leave the networks they no longer belong to, so an allowed
   flow is never without a network;
4. the policy's networks it no longer needs are removed (its scope only).

In check mode steps 2-4 are predicted from the same plan and nothing is written.
"""

from __future__ import annotations

import fnmatch

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils import _attachments
from ansible_collections.docknet.fabric.plugins.module_utils import _network
from ansible_collections.docknet.fabric.plugins.module_utils import _service
from ansible_collections.docknet.fabric.plugins.module_utils._endpoints import container_name
from ansible_collections.docknet.fabric.plugins.module_utils._wait import REAL_CLOCK, retry_while
from ansible_collections.docknet.fabric.plugins.module_utils._writer import Writer
from ansible_collections.docknet.fabric.plugins.module_utils._policy_compile import (
    POLICY_LABEL,
    MEMBERS_LABEL,
    compile_policy,
    describe_leaks,
    find_leaks,
    normalise_policy,
    plan_unit,
)

WHO = 'docknet.fabric.network_policy'
# Networks that never count as a leak: nothing is reached through them but published ports.
NOT_A_LEAK = frozenset(('ingress', 'none'))
SYMMETRY_NOTE = ('Docker networks are symmetric and carry every port: an allowed pair reaches each other both ways, '
                 'on every port. Port-level rules need a host firewall.')


# ---------------------------------------------------------------- selection (pure)

def select_services(services, member):
    """The services a member selects (name, id or pattern, and labels), and the names that selected nothing."""
    refs, labels = member['services'], member['service_labels']
    if not refs and not labels:
        return [], []
    selected = []
    for service in services:
        spec = service.get('Spec') or {}
        name = spec.get('Name') or service['ID']
        if refs and not any(ref in (name, service['ID']) or (_attachments.is_pattern(ref) and fnmatch.fnmatchcase(name, ref))
                            for ref in refs):
            continue
        if labels and not _attachments.labels_have(spec.get('Labels'), labels):
            continue
        selected.append(service)
    names = [(s.get('Spec') or {}).get('Name') for s in selected]
    missing = ['service %s' % ref for ref in refs if not _attachments.is_pattern(ref) and ref not in names
               and not any(s['ID'] == ref for s in selected)]
    selected.sort(key=lambda s: (s.get('Spec') or {}).get('Name') or s['ID'])
    return selected, missing


def service_entries(service, names_by_id):
    """A service's network entries (name, aliases, driver_opts), with the network's id."""
    spec = service.get('Spec') or {}
    targets = (spec.get('TaskTemplate') or {}).get('Networks') or spec.get('Networks') or []
    entries = []
    for target in targets:
        ref = target.get('Target')
        entries.append({'id': ref, 'name': names_by_id.get(ref, ref), 'aliases': target.get('Aliases') or None,
                        'driver_opts': target.get('DriverOpts') or None})
    return entries


def container_networks(summary, host, swarm_ids_by_name):
    """{key: name} of a listing entry's networks; swarm networks by id, local ones per host."""
    found = {}
    for name, endpoint in ((summary.get('NetworkSettings') or {}).get('Networks') or {}).items():
        swarm_id = swarm_ids_by_name.get(name)
        if swarm_id:
            found[swarm_id] = name
        else:
            found[(host, (endpoint or {}).get('NetworkID') or name)] = name
    return found


def unit_label(unit):
    if unit['kind'] == 'service':
        return 'service %s' % unit['name']
    return 'container %s on %s' % (unit['name'], unit['host'])


# ---------------------------------------------------------------- reads

class Hosts:
    """The Docker hosts a policy's containers run on: a client each (the module's own for its own host)."""

    def __init__(self, client, connect_host):
        self.client = client
        self.connect_host = connect_host
        self._clients = {}
        self._listings = {}

    def client_of(self, docker_host):
        if docker_host in (None, self.client.docker_host):
            return self.client
        if docker_host not in self._clients:
            self._clients[docker_host] = self.connect_host(docker_host)
        return self._clients[docker_host]

    def containers(self, docker_host):
        """The host's container listing, read once."""
        if docker_host not in self._listings:
            client = self.client_of(docker_host)
            self._listings[docker_host] = client.call('Listing containers on %s' % docker_host,
                                                      client.api.containers, all=True)
        return self._listings[docker_host]


def _service_units(member, services, names_by_id):
    selected, missing = select_services(services, member)
    found = []
    for service in selected:
        entries = service_entries(service, names_by_id)
        found.append({'member': member['name'], 'kind': 'service', 'name': service['Spec']['Name'],
                      'id': service['ID'], 'host': None, 'service': service, 'entries': entries,
                      'networks': dict((e['id'], e['name']) for e in entries)})
    return found, missing


def _container_units(member, hosts, swarm_ids_by_name):
    if not (member['containers'] or member['container_labels']):
        return [], []
    found, seen_refs = [], set()
    request = {'containers': member['containers'], 'container_labels': member['container_labels']}
    for host in member['hosts'] or [hosts.client.docker_host]:
        chosen, dummy = _attachments.select(hosts.containers(host), request)
        # A swarm task's container belongs to its service: select the service instead.
        chosen = [s for s in chosen if _attachments.SWARM_TASK_LABEL not in (s.get('Labels') or {})]
        for summary in chosen:
            seen_refs.update(ref for ref in member['containers'] if _attachments.matches_reference(summary, ref))
            found.append({'member': member['name'], 'kind': 'container', 'name': container_name(summary),
                          'id': summary['Id'], 'host': host, 'client': hosts.client_of(host),
                          'networks': container_networks(summary, host, swarm_ids_by_name)})
    missing = ['container %s' % ref for ref in member['containers']
               if not _attachments.is_pattern(ref) and ref not in seen_refs]
    return found, missing


def read_units(hosts, policy, listing, services, absent):
    """Every service and container the members select, with its networks; fails on a member that selects nothing."""
    names_by_id = dict((n['Id'], n['Name']) for n in listing)
    swarm_ids_by_name = dict((n['Name'], n['Id']) for n in listing if n.get('Scope') == 'swarm')
    units, owner = [], {}
    for member in (policy['members'][m] for m in sorted(policy['members'])):
        services_found, missing = _service_units(member, services, names_by_id)
        containers_found, lost = _container_units(member, hosts, swarm_ids_by_name)
        found, missing = services_found + containers_found, missing + lost
        if not found:
            missing.append('anything')
        if missing and not absent:
            raise FabricError('member %s: nothing matches %s. Check the member\'s selector (and hosts), or make '
                              'the services and containers first.' % (member['name'], ', '.join(missing)),
                              member=member['name'], missing=missing)
        for unit in found:
            key = (unit['kind'], unit['host'], unit['id'])
            if key in owner and owner[key] != member['name']:
                raise FabricError('%s is selected by members %s and %s; a service or container belongs to one '
                                  'member only. Narrow the selectors.'
                                  % (unit_label(unit), owner[key], member['name']))
            owner[key] = member['name']
            units.append(unit)
    return units


# ---------------------------------------------------------------- plan (pure)

def check_names(listing, policy, wanted, scope_names):
    """A network the policy needs that exists without being the policy's is refused."""
    for network in listing:
        if network['Name'] in wanted and network['Name'] not in scope_names:
            raise FabricError('network %s exists but does not belong to policy %s (label %s); the policy needs '
                              'that name. Remove or rename that network, or rename the policy.'
                              % (network['Name'], policy['name'], POLICY_LABEL), network=network['Name'])


def outside_networks(units, members, policy_names):
    """{member: {network key: name}}: the networks outside the policy each member's units are on."""
    outside = dict((m, {}) for m in members)
    for unit in units:
        for key, name in unit['networks'].items():
            if name not in policy_names and name not in NOT_A_LEAK:
                outside[unit['member']][key] = name
    return outside


def plan_units(units, policy_names, membership):
    """Every unit's policy networks now (``current``), to ``join`` and to ``leave``."""
    for unit in units:
        current = sorted(set(name for name in unit['networks'].values() if name in policy_names))
        unit['current'] = current
        unit['join'], unit['leave'] = plan_unit(current, membership[unit['member']])


def policy_result(policy, compiled, units, scope, obsolete, leaks):
    """The module's result (and diff) for the plan, before the networks' own actions are added."""
    actions = []
    for step in ('join', 'leave'):
        for unit in units:
            for network in unit[step]:
                actions.append('%s %ss %s' % (unit_label(unit), step, network))
    actions += ['remove network %s' % n for n in obsolete]
    before_networks = dict((n['Name'], sorted(filter(None, (n.get('Labels') or {}).get(MEMBERS_LABEL, '').split(','))))
                           for n in scope)
    after_networks = dict((n['name'], n['members']) for n in compiled['networks'])
    before_members, after_members = {}, {}
    for unit in units:
        before_members.setdefault(unit['member'], {})[unit_label(unit)] = unit['current']
        after_members.setdefault(unit['member'], {})[unit_label(unit)] = compiled['membership'][unit['member']]
    members = []
    for name in sorted(policy['members']):
        mine = [u for u in units if u['member'] == name]
        members.append({
            'name': name,
            'networks': compiled['membership'][name],
            'egress': name in policy['egress'],
            'services': [u['name'] for u in mine if u['kind'] == 'service'],
            'containers': [{'name': u['name'], 'host': u['host']} for u in mine if u['kind'] == 'container'],
            'joins': [{'unit': unit_label(u), 'network': n} for u in mine for n in u['join']],
            'leaves': [{'unit': unit_label(u), 'network': n} for u in mine for n in u['leave']],
        })
    return {
        'changed': bool(actions),
        'policy': policy['name'],
        'networks': [dict((k, n[k]) for k in ('name', 'purpose', 'members', 'internal'))
                     for n in compiled['networks']],
        'removed_networks': obsolete,
        'members': members,
        'matrix': compiled['matrix'],
        'symmetric': True,
        'note': SYMMETRY_NOTE,
        'mermaid': compiled['mermaid'],
        'leaks': leaks,
        'actions': actions,
        'diff': {'before': {'networks': before_networks, 'members': before_members},
                 'after': {'networks': after_networks, 'members': after_members}},
    }


# ---------------------------------------------------------------- the engine

class PolicyEngine:
    """One run of network_policy. ``connect_host(docker_host)`` gives a client for another host's daemon."""

    def __init__(self, client, params, check_mode, connect_host, warn=None, clock=REAL_CLOCK):
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.hosts = Hosts(client, connect_host)
        self.warn = warn or (lambda msg: None)
        self.writes = PolicyWrites(client, params, self.warn, clock)

    def run(self):
        params = self.params
        absent = params.get('state') == 'absent'
        policy = normalise_policy(params if not absent else dict(params, allow=[], egress=[]))
        compiled = compile_policy(policy)
        net_engine = _network.Engine(self.client, 'overlay', self.check_mode, warn=self.warn)
        _network.require_manager(self.client, WHO)
        listing = self.client.call('Listing networks', self.client.api.networks)
        services = self.client.call('Listing services', self.client.api.services)
        scope = [n for n in listing if (n.get('Labels') or {}).get(POLICY_LABEL) == policy['name']]
        scope_names = set(n['Name'] for n in scope)
        wanted = dict((n['name'], n) for n in compiled['networks'])
        check_names(listing, policy, wanted, scope_names)
        units = read_units(self.hosts, policy, listing, services, absent)
        policy_names = scope_names | set(wanted)
        # Leaks: members sharing a network outside the policy that the policy does not allow them.
        leaks = find_leaks(outside_networks(units, policy['members'], policy_names), policy['edges']) if not absent else []
        if leaks:
            text = ('members the policy does not allow to talk share networks outside it: %s. Take them off those '
                    'networks (or allow the pair).' % describe_leaks(leaks))
            if policy['strict']:
                raise FabricError('policy %s: %s Nothing was changed (strict: true).' % (policy['name'], text),
                                  leaks=leaks, changed=False)
            self.warn('policy %s: %s' % (policy['name'], text))
        plan_units(units, policy_names, compiled['membership'])
        obsolete = sorted(n['Name'] for n in scope if n['Name'] not in wanted)
        result = policy_result(policy, compiled, units, scope, obsolete, leaks)
        # Step 1, in check mode too: the network engine plans without writing.
        networks_result = net_engine.run({
            'networks': [{'name': n['name'], 'state': 'present', 'attachable': True, 'internal': n['internal'],
                          'labels': n['labels']} for n in compiled['networks']],
            'purge': False, 'recreate': False, 'force': False})
        created = [a['network'] for a in networks_result['actions'] if a['action'] == 'create']
        result['actions'] = ['create network %s' % n for n in created] + result['actions']
        result['changed'] = bool(result['actions'])
        if self.check_mode:
            return result
        self.writes.done += ['create network %s' % n for n in created]
        self.writes.apply_reporting(units, obsolete)
        return result


# ---------------------------------------------------------------- writes (never in check mode)

class PolicyWrites:
    """Steps 2-4: joins, then leaves, then the networks no longer needed; ``done`` says what was done."""

    RELEASE_SECONDS = 90

    def __init__(self, client, params, warn, clock):
        self.client = client
        self.params = params
        self.warn = warn
        self.clock = clock
        self.done = []

    def apply_reporting(self, units, obsolete):
        try:
            self.apply(units, obsolete)
        except FabricError as exc:
            details = dict(exc.details)
            details.update(changed=bool(self.done), done=list(self.done))
            raise FabricError('%s (done before this: %s)' % (exc.msg, '; '.join(self.done) or 'nothing'), **details)

    def apply(self, units, obsolete):
        # Joins first, for everyone: an allowed flow moving to a new network keeps the old one meanwhile.
        for unit in units:
            if unit['join']:
                if unit['kind'] == 'service':
                    keep = list(unit['entries'])
                    self._service_networks(unit, keep + [{'name': n} for n in unit['join']])
                else:
                    for network in unit['join']:
                        self._container(unit, network, 'present')
                self.done += ['%s joins %s' % (unit_label(unit), n) for n in unit['join']]
        for unit in units:
            if unit['leave']:
                if unit['kind'] == 'service':
                    final = [e for e in unit['entries'] if e['name'] not in unit['leave']]
                    self._service_networks(unit, final + [{'name': n} for n in unit['join']])
                else:
                    for network in unit['leave']:
                        self._container(unit, network, 'absent')
                self.done += ['%s leaves %s' % (unit_label(unit), n) for n in unit['leave']]
        for name in obsolete:
            self._remove_network(name)
            self.done.append('remove network %s' % name)

    def _service_networks(self, unit, entries):
        networks = [dict((k, e[k]) for k in ('name', 'aliases', 'driver_opts') if e.get(k) is not None)
                    for e in entries]
        params = {'name': unit['name'], 'state': 'present', 'networks': networks, 'wait': True,
                  'wait_timeout': self.params.get('wait_timeout') or 120, 'rollback_on_failure': False}
        _service.run(self.client, params, check_mode=False)

    def _container(self, unit, network, state):
        params = {'network': network, 'containers': [unit['id']], 'state': state, 'missing': 'fail'}
        _attachments.run(unit['client'], params, False)

    def _remove_network(self, name):
        """Remove a network the policy no longer needs; Docker releases it once the services' old tasks are gone."""
        def attempt():
            engine = _network.Engine(self.client, 'overlay', False, warn=self.warn)
            try:
                engine.run({'networks': [{'name': name, 'state': 'absent'}], 'purge': False, 'recreate': False,
                            'force': False})
            except FabricError as exc:
                attached = exc.details.get('containers') or []
                # Stopped containers of replaced swarm tasks keep the network in their settings but hold no
                # endpoint (the swarm prunes them itself): they do not stop Docker from removing it.
                if not attached or exc.details.get('services') or not self._only_old_tasks(attached):
                    raise
                network = self.client.call('Inspecting network %s' % name, self.client.api.inspect_network, name)
                Writer(self.client, False).write('Removing network %s' % name, self.client.api.remove_network,
                                                 network['Id'])

        def in_use(exc):
            return isinstance(exc, FabricError) and ('active endpoints' in exc.msg or ' is in use' in exc.msg)

        try:
            retry_while(attempt, in_use, self.RELEASE_SECONDS, step=1, clock=self.clock)
        except FabricError as exc:
            raise FabricError('the policy no longer needs network %s, but it could not be removed: %s. '
                              'The policy detaches only its members; detach the others or add them to it.'
                              % (name, exc.msg.split('. Set force')[0]), network=name)

    def _only_old_tasks(self, names):
        """Whether every container named is a swarm task's container that no longer runs."""
        containers = self.client.call('Listing containers', self.client.api.containers, all=True,
                                      filters={'label': _attachments.SWARM_TASK_LABEL})
        old = set(container_name(c) for c in containers if c.get('State') != 'running')
        return all(name in old for name in names)


def run(client, params, check_mode, connect_host, warn=None):
    return PolicyEngine(client, params, check_mode, connect_host, warn).run()
