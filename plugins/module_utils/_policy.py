# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_policy's engine: read the members and their networks, refuse leaks, apply the compiled policy.

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
import time

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils import _attachments
from ansible_collections.docknet.fabric.plugins.module_utils import _network
from ansible_collections.docknet.fabric.plugins.module_utils import _service
from ansible_collections.docknet.fabric.plugins.module_utils._endpoints import container_name
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

def _is_pattern(text):
    return any(ch in text for ch in '*?[')


def _labels_match(labels, wanted):
    labels = labels or {}
    return all(key in labels and (value is None or labels[key] == value) for key, value in wanted.items())


def select_services(services, member):
    """The services a member selects (name, id or pattern, and labels), and the names that selected nothing."""
    refs, labels = member['services'], member['service_labels']
    if not refs and not labels:
        return [], []
    selected = []
    for service in services:
        spec = service.get('Spec') or {}
        name = spec.get('Name') or service['ID']
        if refs and not any(ref in (name, service['ID']) or (_is_pattern(ref) and fnmatch.fnmatchcase(name, ref))
                            for ref in refs):
            continue
        if labels and not _labels_match(spec.get('Labels'), labels):
            continue
        selected.append(service)
    names = [(s.get('Spec') or {}).get('Name') for s in selected]
    missing = ['service %s' % ref for ref in refs if not _is_pattern(ref) and ref not in names
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


# ---------------------------------------------------------------- the engine

class PolicyEngine:
    """One run of network_policy. ``connect_host(docker_host)`` gives a client for another host's daemon."""

    RELEASE_SECONDS = 90

    def __init__(self, client, params, check_mode, connect_host, warn=None):
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.connect_host = connect_host
        self.warn = warn or (lambda msg: None)
        self.done = []
        self._hosts = {}

    def host_client(self, docker_host):
        if docker_host in (None, self.client.docker_host):
            return self.client
        if docker_host not in self._hosts:
            self._hosts[docker_host] = self.connect_host(docker_host)
        return self._hosts[docker_host]

    # -- reads
    def read_units(self, policy, listing, services):
        """Every service and container the members select, with its networks; fails on a member that selects nothing."""
        names_by_id = dict((n['Id'], n['Name']) for n in listing)
        swarm_ids_by_name = dict((n['Name'], n['Id']) for n in listing if n.get('Scope') == 'swarm')
        summaries_by_host = {}
        units, owner = [], {}
        absent = self.params.get('state') == 'absent'
        for member in (policy['members'][m] for m in sorted(policy['members'])):
            found, missing = [], []
            selected, lost = select_services(services, member)
            missing += lost
            for service in selected:
                entries = service_entries(service, names_by_id)
                found.append({'member': member['name'], 'kind': 'service', 'name': service['Spec']['Name'],
                              'id': service['ID'], 'host': None, 'service': service, 'entries': entries,
                              'networks': dict((e['id'], e['name']) for e in entries)})
            if member['containers'] or member['container_labels']:
                hosts = member['hosts'] or [self.client.docker_host]
                seen_refs = set()
                for host in hosts:
                    client = self.host_client(host)
                    if host not in summaries_by_host:
                        summaries_by_host[host] = client.call('Listing containers on %s' % host,
                                                              client.api.containers, all=True)
                    request = {'containers': member['containers'], 'container_labels': member['container_labels']}
                    chosen, dummy = _attachments.select(summaries_by_host[host], request)
                    # A swarm task's container belongs to its service: select the service instead.
                    chosen = [s for s in chosen if _attachments.SWARM_TASK_LABEL not in (s.get('Labels') or {})]
                    for summary in chosen:
                        name = container_name(summary)
                        seen_refs.update(ref for ref in member['containers']
                                         if _attachments.matches_reference(summary, ref))
                        found.append({'member': member['name'], 'kind': 'container', 'name': name,
                                      'id': summary['Id'], 'host': host, 'client': client,
                                      'networks': container_networks(summary, host, swarm_ids_by_name)})
                missing += ['container %s' % ref for ref in member['containers']
                            if not _is_pattern(ref) and ref not in seen_refs]
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

    # -- the cycle
    def run(self):
        params = self.params
        absent = params.get('state') == 'absent'
        policy = normalise_policy(params if not absent else dict(params, allow=[], egress=[]))
        compiled = compile_policy(policy)
        net_engine = _network.Engine(self.client, 'overlay', self.check_mode, module_name=WHO, warn=self.warn)
        net_engine.require_manager()
        listing = self.client.call('Listing networks', self.client.api.networks)
        services = self.client.call('Listing services', self.client.api.services)
        scope = [n for n in listing if (n.get('Labels') or {}).get(POLICY_LABEL) == policy['name']]
        scope_names = set(n['Name'] for n in scope)
        wanted = dict((n['name'], n) for n in compiled['networks'])
        for network in listing:
            if network['Name'] in wanted and network['Name'] not in scope_names:
                raise FabricError('network %s exists but does not belong to policy %s (label %s); the policy needs '
                                  'that name. Remove or rename that network, or rename the policy.'
                                  % (network['Name'], policy['name'], POLICY_LABEL), network=network['Name'])
        units = self.read_units(policy, listing, services)
        policy_names = scope_names | set(wanted)

        # Leaks: members sharing a network outside the policy that the policy does not allow them.
        outside = dict((m, {}) for m in policy['members'])
        for unit in units:
            for key, name in unit['networks'].items():
                if name not in policy_names and name not in NOT_A_LEAK:
                    outside[unit['member']][key] = name
        leaks = find_leaks(outside, policy['edges']) if not absent else []
        if leaks:
            text = ('members the policy does not allow to talk share networks outside it: %s. Take them off those '
                    'networks (or allow the pair).' % describe_leaks(leaks))
            if policy['strict']:
                raise FabricError('policy %s: %s Nothing was changed (strict: true).' % (policy['name'], text),
                                  leaks=leaks, changed=False)
            self.warn('policy %s: %s' % (policy['name'], text))

        # The plan: every unit's policy networks now and wanted.
        for unit in units:
            current = sorted(set(name for name in unit['networks'].values() if name in policy_names))
            unit['current'] = current
            unit['join'], unit['leave'] = plan_unit(current, compiled['membership'][unit['member']])
        obsolete = sorted(n['Name'] for n in scope if n['Name'] not in wanted)

        result = self._result(policy, compiled, units, scope, obsolete, leaks)
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
        self.done += ['create network %s' % n for n in created]
        try:
            self.apply(units, obsolete, listing)
        except FabricError as exc:
            details = dict(exc.details)
            details.update(changed=bool(self.done), done=list(self.done))
            raise FabricError('%s (done before this: %s)' % (exc.msg, '; '.join(self.done) or 'nothing'), **details)
        return result

    def _result(self, policy, compiled, units, scope, obsolete, leaks):
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

    # -- writes (never in check mode)
    def apply(self, units, obsolete, listing):
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
        deadline = time.time() + self.RELEASE_SECONDS
        while True:
            engine = _network.Engine(self.client, 'overlay', False, module_name=WHO, warn=self.warn)
            try:
                engine.run({'networks': [{'name': name, 'state': 'absent'}], 'purge': False, 'recreate': False,
                            'force': False})
                return
            except FabricError as exc:
                attached = exc.details.get('containers') or []
                # Stopped containers of replaced swarm tasks keep the network in their settings but hold no
                # endpoint (the swarm prunes them itself): they do not stop Docker from removing it.
                if attached and not exc.details.get('services') and self._only_old_tasks(attached):
                    try:
                        network = self.client.call('Inspecting network %s' % name, self.client.api.inspect_network,
                                                   name)
                        self.client.call('Removing network %s' % name, self.client.api.remove_network, network['Id'])
                        return
                    except FabricError as removal:
                        exc = removal
                in_use = 'active endpoints' in exc.msg or ' is in use' in exc.msg
                if not in_use or time.time() > deadline:
                    raise FabricError('the policy no longer needs network %s, but it could not be removed: %s. '
                                      'The policy detaches only its members; detach the others or add them to it.'
                                      % (name, exc.msg.split('. Set force')[0]), network=name)
                time.sleep(1)

    def _only_old_tasks(self, names):
        """Whether every container named is a swarm task's container that no longer runs."""
        containers = self.client.call('Listing containers', self.client.api.containers, all=True,
                                      filters={'label': _attachments.SWARM_TASK_LABEL})
        old = set(container_name(c) for c in containers if c.get('State') != 'running')
        return all(name in old for name in names)


def run(client, params, check_mode, connect_host, warn=None):
    return PolicyEngine(client, params, check_mode, connect_host, warn).run()
