# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: swarm_service's plans, one per service, made from one listing before any write.

``Planner.plan`` turns one entry (the options of one service) into a
``ServicePlan``: its ``Action`` (create, update, remove, none), the spec to
send, the before/after views and what to wait for. ``Lookup`` lists the
networks, secrets and configs once for the whole task and resolves names to
ids. Every refusal (missing network, mode change, port taken) happens here.
"""

from __future__ import annotations

from collections import namedtuple

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._service_checks import port_conflicts, validate_spec
from ansible_collections.docknet.fabric.plugins.module_utils._service_spec import (
    MODE_NAMES,
    MODES,
    differences,
    display,
    merge,
    mode_of,
    normalise,
    options_of,
    partial_spec,
)
from ansible_collections.docknet.fabric.plugins.module_utils._service_tasks import update_in_progress

# What the removal of a service waits for, and what a converge wait waits for.
REMOVAL, CONVERGE, IN_PROGRESS, PAUSED = 'removal', 'converge', 'in progress', 'paused'


class Action(namedtuple('Action', 'name order send')):
    """What a plan does to its service: ``name`` is reported, ``order`` sorts the writes (removals free
    ports and names first), ``send(writer, plan)`` makes the write."""


def _create(writer, plan):
    created = writer.post('creating service %s' % plan.name, '/services/create', plan.new)
    plan.id = (created or {}).get('ID')


def _update(writer, plan):
    writer.post('updating service %s' % plan.name, '/services/{0}/update', plan.new,
                {'version': plan.service['Version']['Index']}, plan.id)


def _remove(writer, plan):
    writer.write('removing service %s' % plan.name, writer.client.api.remove_service, plan.id)


CREATE = Action('create', 2, _create)
UPDATE = Action('update', 1, _update)
REMOVE = Action('remove', 0, _remove)
NONE = Action('none', None, None)


class ServicePlan:
    """One service of the task: what is planned, then what was sent and what the wait found."""

    def __init__(self, name, entry=None, service=None, wait=None, rolling_back=False, since=None, service_id=None):
        self.name = name
        self.who = 'swarm_service %s' % name
        self.entry = entry or {}
        self.service = service
        self.id = service['ID'] if service else service_id
        self.action = NONE
        self.changes = []
        self.wait = wait
        self.previous = None        # the spec a rollback returns to
        self.since = since          # tasks created before this time belong to an earlier update
        self.rolling_back = rolling_back
        self.new = None             # the merged spec to send
        self.before = None
        self.after = None
        self.in_progress = None
        # Filled while applying and waiting.
        self.sent = False
        self.error = None
        self.outcome = None
        self.why = None
        self.failed = []
        self.tasks = []
        self.last = None            # the service as last listed while waiting
        self.deadline = None
        self.docker_rolled_back = False
        self.rollback = None        # the ServicePlan of the rollback wait
        # Filled while reporting.
        self.failed_tasks = None
        self.rolled_back = None

    @property
    def timeout(self):
        return self.entry.get('wait_timeout', 120)

    @property
    def waited(self):
        """Is this plan waited for: it was sent, or it is unchanged but its last update is under way?"""
        return bool(self.wait) and (self.sent or self.action is NONE)


def find_service(services, name):
    return next((s for s in services if (s.get('Spec') or {}).get('Name') == name), None) or \
        next((s for s in services if s.get('ID') == name), None)


class Lookup:
    """Networks, secrets and configs, each listed once for the whole task and only when needed."""

    def __init__(self, client):
        self.client = client
        self.network_names = {}
        self.listings = {}

    def list_for(self, entries, services):
        present = [e for e in entries if e['state'] == 'present']
        removed = [e for e in entries if e['state'] == 'absent' and find_service(services, e['name'])]
        if present or removed:
            self.listings['networks'] = self.client.call('listing networks', self.client.api.networks)
            for net in self.listings['networks']:
                self.network_names[net['Id']] = net['Name']
        for kind in ('secrets', 'configs'):
            if any(e.get(kind) for e in present):
                items = self.client.call('listing %s' % kind, getattr(self.client.api, kind))
                self.listings[kind] = dict((i['Spec']['Name'], i['ID']) for i in items)

    def resolve(self, entry, who):
        """Names of networks, secrets and configs -> ids, failing on any that is missing or unusable."""
        resolved = {'networks': {}, 'secrets': {}, 'configs': {}}
        for wanted in entry.get('networks') or []:
            resolved['networks'][wanted['name']] = self._network(wanted['name'], who)['Id']
        for kind in ('secrets', 'configs'):
            for ref in entry.get(kind) or []:
                if ref['name'] not in self.listings[kind]:
                    raise FabricError('%s: %s %s does not exist; create it first (docker %s create).'
                                      % (who, kind[:-1], ref['name'], kind[:-1]), **{kind[:-1]: ref['name']})
                resolved[kind][ref['name']] = self.listings[kind][ref['name']]
        return resolved

    def _network(self, name, who):
        networks = self.listings.get('networks') or []
        match = [n for n in networks if n['Name'] == name] or [n for n in networks if n['Id'].startswith(name)]
        if not match:
            raise FabricError('%s: network %s does not exist on this manager; create it first as a '
                              'swarm-scoped network (driver overlay).' % (who, name), network=name)
        net = match[0]
        if net.get('Scope') != 'swarm':
            raise FabricError('%s: network %s is %s-scoped (driver %s); services join only swarm-scoped '
                              'networks. Use an overlay network.'
                              % (who, name, net.get('Scope'), net.get('Driver')), network=name)
        if net.get('Ingress'):
            raise FabricError('%s: network %s is the ingress network; services reach it through ports, '
                              'leave it out of networks.' % (who, name), network=name)
        return net

    def display(self, spec):
        return display(spec, self.network_names)


def require_gates(client, entry, who):
    """Options the daemon's API may be too old for: a clear refusal instead of a silent no-op."""
    if entry.get('max_replicas_per_node') is not None:
        client.require('service.max_replicas_per_node', who=who)
    if entry.get('init') is not None:
        client.require('service.init', who=who)
    if entry.get('mode') in ('replicated-job', 'global-job'):
        client.require('service.job_mode', who=who)
    if entry.get('rollback_config') is not None:
        client.require('service.rollback_config', who=who)


def check_mode_change(entry, current, who):
    """Docker cannot change a service's mode, nor give a global service replicas: refuse, naming the fix."""
    if current and entry.get('mode') and MODES[entry['mode']] != mode_of(current):
        raise FabricError('%s: the service runs in mode %s and Docker cannot change the mode of a service; '
                          'remove it first (state: absent) to recreate it as %s.'
                          % (who, MODE_NAMES.get(mode_of(current), mode_of(current)), entry['mode']))
    if current and entry.get('replicas') is not None and mode_of(current) in ('Global', 'GlobalJob'):
        raise FabricError('%s: replicas does not go with mode %s (one task per node); leave replicas out.'
                          % (who, MODE_NAMES[mode_of(current)]))


class Planner:
    """Plans every service of the task from one listing of services (and of running tasks)."""

    def __init__(self, client, lookup, services, running_tasks):
        self.client = client
        self.lookup = lookup
        self.services = services
        self.running_tasks = running_tasks

    def plan(self, entry):
        service = find_service(self.services, entry['name'])
        plan = ServicePlan(entry['name'], entry, service)
        waits = entry.get('wait', True)
        if entry['state'] == 'absent':
            if service:
                plan.action, plan.wait = REMOVE, REMOVAL if waits else None
                plan.before, plan.after = self.lookup.display(normalise(service['Spec'])), {}
            return plan
        require_gates(self.client, entry, plan.who)
        resolved = self.lookup.resolve(entry, plan.who)
        current = service['Spec'] if service else None
        check_mode_change(entry, current, plan.who)
        plan.new = merge(current, partial_spec(entry, resolved, current), plan.name)
        validate_spec(plan.new, plan.who)
        before, after = normalise(current), normalise(plan.new)
        paths = differences(before, after)
        plan.before, plan.after = self.lookup.display(before), self.lookup.display(after)
        if not service or paths:
            plan.action, plan.changes = (UPDATE if service else CREATE), options_of(paths)
            plan.wait = CONVERGE if waits else None
            if service:
                plan.previous, plan.since = current, service.get('UpdatedAt')
        else:
            self._unchanged(plan, service, waits)
        return plan

    def _unchanged(self, plan, service, waits):
        """Nothing to change: is the service's last update still under way, or stuck?"""
        state = (service.get('UpdateStatus') or {}).get('State')
        if state == 'paused':
            # The last update is stuck: say so (and roll back when asked).
            plan.in_progress, plan.wait = 'update paused', PAUSED if waits else None
            plan.previous = service.get('PreviousSpec')
            return
        mine = [t for t in self.running_tasks if t.get('ServiceID') == service['ID']]
        why = update_in_progress(service, mine)
        if why:
            plan.in_progress, plan.wait = why, IN_PROGRESS if waits else None
            plan.rolling_back = state == 'rollback_started'
            plan.previous = service.get('PreviousSpec')

    def check_ports(self, plans):
        """Published ports against the services as they will be after this task (its own plans included)."""
        planned = dict((p.id, p) for p in plans if p.id)
        future = []
        for other in self.services:
            plan = planned.get(other['ID'])
            if plan is None or plan.action is NONE:
                future.append(other)
            elif plan.action is UPDATE:
                future.append({'ID': other['ID'], 'Spec': plan.new})
        future += [{'ID': 'new:' + p.name, 'Spec': p.new} for p in plans if p.action is CREATE]
        for plan in plans:
            if plan.action not in (CREATE, UPDATE):
                continue
            taken = port_conflicts(plan.new, future, plan.id or 'new:' + plan.name)
            if taken:
                raise FabricError('%s: published port %s already taken; choose another published port or '
                                  'remove that service.' % (plan.who, ', '.join(taken)), ports_taken=taken)
