# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the engine of bridge_network, overlay_network and macvlan_network.

One cycle for every task: normalise the declared networks (and reject bad
input before any API call, ``_network_model``) -> read the daemon's network
listing once -> compare what was declared with what exists and plan one typed
plan per network (``_network_view``, ``_network_plan``) -> refuse what would
lose something, still before any write -> apply the plans. Check mode runs the
same cycle; the task's ``_writer.Writer`` is the one place that knows about it
and skips the writes.

Docker has no network update API: any difference means recreating the
network, which is refused unless ``recreate`` is true. Recreation puts every
container back with the endpoint settings it had (``_network_recreation``).
Two runs that create the same network at once converge on the oldest one
(``Duplicates``).
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils import _endpoints
from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._network_model import DEFAULT_OWNER, normalise_task
from ansible_collections.docknet.fabric.plugins.module_utils._network_plan import (
    check_dual_stack,
    check_parents,
    check_subnets,
    dual_stack_plans,
    gates_needed,
    plan_network,
    purge_candidates,
    purge_plan,
)
from ansible_collections.docknet.fabric.plugins.module_utils._network_recreation import Recovery, Replacer
from ansible_collections.docknet.fabric.plugins.module_utils._network_services import ServiceUsers
from ansible_collections.docknet.fabric.plugins.module_utils._network_view import (
    actual_view,
    create_body,
    differences,
    driver_matches,
    is_owned,
    oldest_first,
    public_view,
)
from ansible_collections.docknet.fabric.plugins.module_utils._network_writes import NetworkWrites
from ansible_collections.docknet.fabric.plugins.module_utils._recreation import Journal
from ansible_collections.docknet.fabric.plugins.module_utils._writer import Writer


def swarm_role(client):
    """The daemon's swarm state: (LocalNodeState, is it a manager?)."""
    swarm = (client.call('Reading the daemon information', client.api.info) or {}).get('Swarm') or {}
    return swarm.get('LocalNodeState') or 'inactive', swarm.get('LocalNodeState') == 'active' and bool(
        swarm.get('ControlAvailable'))


def require_manager(client, who):
    """Fail unless the daemon is a swarm manager; ``who`` is the module named in the message."""
    state, manager = swarm_role(client)
    if not manager:
        role = 'a swarm worker' if state == 'active' else 'not in a swarm (%s)' % state
        raise FabricError('%s must run against a swarm manager; the daemon at %s is %s. Point docker_host at a '
                          'manager.' % (who, client.docker_host, role))


def list_networks(client):
    return client.call('Listing networks', client.api.networks)


def diff_of(plans, driver):
    """The task's diff: every network a plan touches (or keeps), before and after."""
    before, after = {}, {}
    for plan in plans:
        if not plan.acts and plan.current is None:
            continue
        view = actual_view(plan.current, driver) if plan.current else None
        before[plan.network] = public_view(view)
        after[plan.network] = plan.after(view)
    return {'before': before, 'after': after}


def encryption_warnings(plans):
    return ['network %s is encrypted (IPsec ESP). Docker does not check that the nodes can do IPsec: on a node '
            'without ESP support (kernel modules esp4/xfrm) containers on this network cannot reach each other; '
            'traffic is dropped, never sent in clear. Check every node that runs containers on it.' % plan.network
            for plan in plans if plan.desired['fields'].get('encrypted') and plan.desired['state'] == 'present']


class Duplicates:
    """Networks of one name that two runs made at once: the oldest (by Created, then id) is kept, whoever looks."""

    def __init__(self, client, driver, writes, services, warn):
        self.client = client
        self.driver = driver
        self.writes = writes
        self.services = services
        self.warn = warn
        self.removed = []

    def resolve(self, entry, listing):
        """The network of that name; extra ones a concurrent run made (as declared, ours, empty) are removed."""
        matches = oldest_first([n for n in listing if n.get('Name') == entry['name']])
        if len(matches) < 2:
            return matches[0] if matches else None
        keep, extra = matches[0], matches[1:]
        if not all(self._is_spare(entry, n, listing) for n in extra):
            raise FabricError('network %s: the daemon has %d networks of that name (ids %s) that differ from the '
                              'declaration, are not this collection\'s or have containers; remove the extra ones '
                              'by id first.' % (entry['name'], len(matches), ', '.join(n['Id'][:12] for n in matches)))
        for network in extra:
            self._remove(network, keep)
            listing.remove(network)
        return keep

    def after_create(self, plans):
        """After creating, a concurrent run may have created the same network: keep the oldest, remove the rest.

        Whichever run lists last sees both networks, so the runs converge on the
        oldest one whatever their timing.
        """
        made = [p for p in plans if p.makes]
        if not made:
            return
        listing = list_networks(self.client)
        for plan in made:
            matches = oldest_first([n for n in listing if n.get('Name') == plan.network])
            if len(matches) < 2:
                continue
            keep = matches[0]
            for network in matches[1:]:
                if not self._is_spare(plan.desired, network, listing):
                    self.warn('network %s: another network of that name (%s) appeared while this task ran, with '
                              'other settings or containers; it was left alone.' % (plan.network, network['Id'][:12]))
                    continue
                self._remove(network, keep)
            if plan.new_id and plan.new_id != keep['Id']:
                plan.new_id = keep['Id']

    def made_meanwhile(self, plan):
        """The network of that name another run made since our listing, when it is as declared; else None."""
        matches = oldest_first([n for n in list_networks(self.client) if n.get('Name') == plan.network])
        if matches and not plan_network(plan.desired, matches[0]).acts:
            return matches[0]
        return None

    def _is_spare(self, entry, network, listing):
        """A duplicate that can go: our label, the declared settings (for state=absent: the driver), no endpoints."""
        if not driver_matches(entry, network) or not is_owned(network, listing):
            return False
        if entry['state'] == 'present' and differences(entry, actual_view(network, self.driver)):
            return False
        return not (_endpoints.snapshot(self.client, network)
                    or (network.get('Scope') == 'swarm' and self.services.on(network)))

    def _remove(self, network, keep):
        self.writes.remove_if_present('Removing network %s %s, a duplicate of %s (same name, as declared, no '
                                      'endpoints)' % (network['Name'], network['Id'][:12], keep['Id'][:12]),
                                      network['Id'])
        self.removed.append({'network': network['Name'], 'id': network['Id'], 'kept': keep['Id']})


class Engine:
    """Runs the cycle for one task. Every write goes through ``self.writer``, which stops them in check mode."""

    def __init__(self, client, driver, check_mode, warn=None):
        self.client = client
        self.driver = driver
        self.check_mode = check_mode
        self.who = 'docknet.fabric.%s_network' % driver
        self.warn = warn or (lambda msg: None)
        self.writer = Writer(client, check_mode)
        self.journal = Journal(client, self.writer)
        self.writes = NetworkWrites(client, self.writer)
        self.services = ServiceUsers(client, self.writer)
        self.duplicates = Duplicates(client, driver, self.writes, self.services, self.warn)
        self.replacer = Replacer(self.writes, self.journal, self.services, driver)

    def run(self, params):
        desired = normalise_task(params, self.driver)
        for entry in desired:
            for gate in gates_needed(entry['fields']):
                self.client.require(gate, who=self.who)
        if self.driver == 'overlay' or any(d['fields'].get('config_from') for d in desired):
            require_manager(self.client, self.who)
        try:
            with self.writer.reporting():
                return self._run(params, desired)
        except FabricError as exc:
            pending = list(self.journal.pending)
            if pending and not self.check_mode:
                exc.details.setdefault('recreation_records', pending)
                exc.msg += (' The endpoints are recorded on the Docker host (volume %s): run the task again to '
                            'finish the recreation; nothing recorded is lost.' % ', '.join(pending))
            raise

    def _run(self, params, desired):
        listing = list_networks(self.client)
        resumed = Recovery(self.writes, self.journal, self.driver, self.warn).resume_all(desired, listing)
        if resumed and not self.check_mode:
            listing = list_networks(self.client)
        check_subnets(desired, listing, self.driver)
        plans = [plan_network(entry, self.duplicates.resolve(entry, listing)) for entry in desired]
        if params.get('networks') is not None and params.get('purge'):
            plans += self._purge_plans(params, desired, listing)
        if self.driver == 'macvlan':
            check_parents(plans, listing)
        if self.driver == 'overlay':
            self._check_dual_stack(plans)
        for plan in plans:      # every refusal happens before the first write
            self._refuse_losses(plan)
        diff = diff_of(plans, self.driver)
        for plan in plans:
            plan.apply(self)
        if not self.check_mode:
            self.duplicates.after_create(plans)
        for warning in encryption_warnings(plans):
            self.warn(warning)
        return {
            'changed': bool(resumed) or bool(self.duplicates.removed) or any(p.acts for p in plans),
            'actions': resumed + [p.public() for p in plans if p.acts],
            'networks': [p.summary() for p in plans],
            'duplicates_removed': self.duplicates.removed,
            'diff': diff,
        }

    def _purge_plans(self, params, desired, listing):
        plans, manager = [], None
        for network in purge_candidates(listing, self.driver, set(d['name'] for d in desired),
                                        owner=params.get('owner') or DEFAULT_OWNER):
            if network.get('Scope') == 'swarm':
                # Swarm-wide networks are a manager's to remove; a worker only sees them while its tasks use them.
                manager = swarm_role(self.client)[1] if manager is None else manager
                if not manager:
                    continue
            plans.append(purge_plan(network, self.driver, params.get('force')))
        return plans

    def _check_dual_stack(self, plans):
        """Refuse to make an overlay with enable_ipv6 on an engine that cannot serve it; warn about one that exists."""
        dual = dual_stack_plans(plans)
        if dual:
            engine = self.client.call('Reading the engine version', self.client.api.version, api_version=False)
            for warning in check_dual_stack(dual, engine):
                self.warn(warning)

    def _refuse_losses(self, plan):
        """Read what is attached to a network about to be replaced or removed, and refuse when it would lose it."""
        if not plan.removes:
            return
        plan.containers = _endpoints.snapshot(self.client, plan.current)
        plan.services = self.services.on(plan.current) if plan.current.get('Scope') == 'swarm' else []
        plan.refuse_losses(self.driver)

    # -- the steps a plan's apply() calls
    def create(self, plan):
        try:
            created = self.writes.create(create_body(plan.desired, self.driver))
        except FabricError as exc:
            existing = self.duplicates.made_meanwhile(plan) if 'already exists' in exc.msg else None
            if existing is None:
                raise
            # A concurrent run created it between our listing and our create: it is there, as declared.
            self.writer.attempted = None
            plan.taken_as_made(existing)
            return
        plan.new_id = (created or {}).get('Id')

    def recreate(self, plan):
        self.replacer.recreate(plan)

    def remove(self, plan):
        self.replacer.remove(plan)


def run(client, params, driver, check_mode, warn=None):
    """Entry point of the three modules."""
    return Engine(client, driver, check_mode, warn=warn).run(params)
