# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: removing or recreating a network without losing what is on it.

``Replacer`` carries out a Remove or Recreate plan: record the endpoints on
the Docker host (``_recreation.Journal``), disconnect this host's containers,
take the network out of the services using it, remove it, make it again and
reconnect every container with its settings. Whatever fails half-way, the
containers get their endpoints back (on the old network, put back as it was)
before the failure is reported. ``Recovery`` finishes the recreations a crash
interrupted, from their records.
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError, FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._network_view import body_from_network, oldest_first
from ansible_collections.docknet.fabric.plugins.module_utils._recreation import static_first

# Disconnect failures that mean the container already left (a removed service's tasks leave on their own).
_ALREADY_LEFT = ('is not connected', 'No such container')


def _failed_text(failures):
    if not failures:
        return ''
    return (', except %s (the recreation record on the Docker host keeps their settings: run the task again)'
            % '; '.join('%s: %s' % f for f in failures))


class Replacer:
    """The steps of a Remove or Recreate plan; ``writes`` sends them, ``journal`` keeps the record."""

    def __init__(self, writes, journal, services, driver):
        self.writes = writes
        self.journal = journal
        self.services = services
        self.driver = driver

    def remove(self, plan):
        self._take_down(plan, 'Removing network %s' % plan.network, record=None, tolerant=True)

    def recreate(self, plan):
        name, network, containers = plan.network, plan.current, plan.containers
        doing = 'Recreating network %s' % name
        record = None
        if containers:
            # Before the first disconnect: a crash from here on is finished by the next run.
            record = self.journal.write(name, self.driver, body_from_network(network), containers)
            self.journal.pending.append(record)
        self._take_down(plan, doing, record, tolerant=False)
        try:
            created = self.writes.create(plan.body)
        except FabricError as exc:
            # Put the network back as it was, with its containers, before reporting.
            restored = self.writes.create(body_from_network(network))
            failures = self.writes.reconnect(containers, (restored or {}).get('Id') or name, doing)
            self._forget(record, name, failures)
            raise FabricError('network %s could not be recreated with the new settings, so it was put back as it '
                              'was with its containers%s: %s' % (name, _failed_text(failures), exc.msg), network=name)
        new_id = (created or {}).get('Id') or name
        plan.new_id = new_id if created else None
        failures = self.writes.reconnect(containers, new_id, doing)
        if failures:
            self._roll_back(plan, new_id, failures, record, doing)
        self._forget(record, name, [])

    def _take_down(self, plan, doing, record, tolerant):
        """Disconnect the containers, take the network out of its services and remove it.

        ``tolerant``: a container that already left is what a removal wanted, not a failure.
        """
        name, network = plan.network, plan.current
        detached = []
        try:
            for container in list(plan.containers):
                try:
                    self.writes.disconnect(doing, container, network['Id'])
                except FabricError as exc:
                    # A removal races the containers leaving on their own (a removed service's tasks): one
                    # that is gone or already detached is what we wanted, not a failure.
                    if not tolerant or not any(w in exc.msg for w in _ALREADY_LEFT):
                        raise
                    plan.containers.remove(container)
                    continue
                detached.append(container)
            for service_name in plan.services:
                self.services.leave(doing, service_name, network)
            if plan.services and not self.writes.writer.check_mode:
                self.writes.remove_when_released(name, network['Id'])
            else:
                self.writes.remove(name, network['Id'])
        except FabricError as exc:
            # Docker kept the network (containers of other nodes, a network made from it, a service update
            # refused...): give this host's containers their endpoints back before reporting.
            failures = self.writes.reconnect(detached, network['Id'], doing)
            self._forget(record, name, failures)
            raise FabricError('%s: %s; so its containers on this host were reconnected%s'
                              % (doing, exc.msg, _failed_text(failures)), network=name)

    def _forget(self, record, name, failures):
        """The recreation is over: remove its record, unless a container is still missing its endpoint."""
        if record and not failures:
            self.journal.remove(record, name)
            self.journal.pending.remove(record)

    def _roll_back(self, plan, new_id, failures, record, doing):
        """A container could not join the new network: put the old network back with every container."""
        failed = set(name for name, dummy in failures)
        for container in plan.containers:
            if container['name'] not in failed:
                self.writes.disconnect(doing, container, new_id, note=' (rolling back)')
        self.writes.remove(plan.network, new_id, what='%s (rolling back): removing the new network' % doing)
        restored = self.writes.create(body_from_network(plan.current))
        again = self.writes.reconnect(plan.containers, (restored or {}).get('Id') or plan.network, doing)
        self._forget(record, plan.network, again)
        raise FabricError('network %s was recreated but these containers could not join it: %s; so the network was '
                          'put back as it was, with its containers%s.'
                          % (plan.network, '; '.join('%s (%s)' % f for f in failures), _failed_text(again)),
                          network=plan.network)


def _inspect_or_none(client, container_id):
    try:
        return client.api.inspect_container(container_id)
    except APIError as exc:
        if getattr(exc, 'status_code', None) == 404:
            return None
        raise


class Recovery:
    """Finishes the recreations a crash interrupted, for the networks a task declares."""

    def __init__(self, writes, journal, driver, warn):
        self.writes = writes
        self.journal = journal
        self.driver = driver
        self.warn = warn

    def resume_all(self, desired, listing):
        names = set(d['name'] for d in desired)
        return [self.resume(record, listing) for record in self.journal.records()
                if record['network'] in names and record.get('driver') == self.driver]

    def resume(self, record, listing):
        client = self.writes.client
        name = record['network']
        doing = 'Finishing the interrupted recreation of network %s' % name
        self.journal.pending.append(record['volume'])
        matches = oldest_first([n for n in listing if n.get('Name') == name])
        if matches:
            network_id = matches[0]['Id']
        else:
            network_id = (self.writes.create(record['old']) or {}).get('Id') or name
        reconnected, gone = [], []
        for entry in static_first(record['containers']):
            container = client.call('Inspecting container %s' % entry['name'], _inspect_or_none, client, entry['id'])
            if container is None:
                gone.append(entry['name'])
                continue
            endpoint = ((container.get('NetworkSettings') or {}).get('Networks') or {}).get(name)
            if endpoint is not None and (endpoint.get('NetworkID') or network_id) == network_id:
                continue
            self.writes.connect(doing, entry, network_id)
            reconnected.append(entry['name'])
        if gone:
            self.warn('network %s: the recreation record names containers that no longer exist: %s.'
                      % (name, ', '.join(gone)))
        self.journal.remove(record['volume'], name)
        self.journal.pending.remove(record['volume'])
        action = {'network': name, 'action': 'resume', 'containers': reconnected}
        if not matches:
            action['created'] = True
        if gone:
            action['gone'] = gone
        return action
