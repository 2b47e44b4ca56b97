# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the swarm services that use a network, and taking a network out of a service.

A swarm network that is removed with ``force`` first leaves every service
using it (an update of the service's spec without that network); a network
that services use is never recreated. ``service_spec_without`` is the pure
spec edit; ``ServiceUsers`` reads the services once per task and updates them
through the task's writer.
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._network_info import list_services_if_manager


def _without_network(targets, network):
    return [t for t in targets or [] if t.get('Target') not in (network['Id'], network['Name'])]


def service_spec_without(spec, network):
    """A service spec with ``network`` taken out of its task template (and of the old top-level list)."""
    spec = dict(spec)
    template = dict(spec.get('TaskTemplate') or {})
    if 'Networks' in template:
        template['Networks'] = _without_network(template['Networks'], network)
    spec['TaskTemplate'] = template
    if 'Networks' in spec:
        spec['Networks'] = _without_network(spec['Networks'], network)
    return spec


def services_by_network(services):
    """Service listing -> ({network id or name: [service names]}, {service name: id}) (pure)."""
    by_network, ids = {}, {}
    for service in services:
        spec = service.get('Spec') or {}
        name = spec.get('Name') or service['ID']
        ids[name] = service['ID']
        targets = (spec.get('TaskTemplate') or {}).get('Networks') or spec.get('Networks') or []
        for target in targets:
            by_network.setdefault(target.get('Target'), []).append(name)
    return by_network, ids


class ServiceUsers:
    """The services of one task's Docker host, read once when first needed; updates go through ``writer``."""

    def __init__(self, client, writer):
        self.client = client
        self.writer = writer
        self._by_network = None
        self._ids = {}

    def on(self, network):
        """The names of the services using ``network`` (none when the host is not a manager)."""
        if self._by_network is None:
            # Not a manager (Docker's 503): no service can be using the network from here.
            services = self.client.call('Listing services', list_services_if_manager, self.client) or []
            self._by_network, self._ids = services_by_network(services)
        return sorted(set(self._by_network.get(network['Id'], []) + self._by_network.get(network['Name'], [])))

    def leave(self, doing, service_name, network):
        """Take ``network`` out of a service, from the service as it is now.

        Read again right before each update: an earlier update of this run (the
        service left another network) moved its version on, and Docker refuses
        an update made from an older version and spec.
        """
        service_id = self._ids.get(service_name, service_name)
        service = self.client.call('Reading service %s' % service_name, self.client.api.inspect_service, service_id)
        spec = service_spec_without(service['Spec'], network)
        return self.writer.post('%s: updating service %s to leave it' % (doing, service_name),
                                '/services/{0}/update', spec, {'version': service['Version']['Index']}, service['ID'])
