# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the network engine's writes to the daemon, each through the task's writer.

Create a network (a failure explained in words a user can act on), remove it
(also once the services that left it have released it, or when a concurrent
run already removed it), and disconnect and connect containers with their
endpoint settings. Every write goes through ``_writer.Writer``, which sends
nothing in check mode and records what was done.
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils import _endpoints
from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError, FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._recreation import static_first
from ansible_collections.docknet.fabric.plugins.module_utils._wait import REAL_CLOCK, retry_while

# How long a removal waits for the services that left a network to release it.
RELEASE_SECONDS = 60


class NetworkWrites:
    """The writes of one task, through ``writer``; ``clock`` is the wait's (a test passes a fake one)."""

    def __init__(self, client, writer, clock=REAL_CLOCK):
        self.client = client
        self.writer = writer
        self.clock = clock

    def create(self, body):
        try:
            return self.writer.post('Creating network %s' % body['Name'], '/networks/create', body)
        except FabricError as exc:
            raise FabricError(explain_create_error(body, exc.msg))

    def remove(self, name, network_id, what=None):
        return self.writer.write(what or 'Removing network %s' % name, self.client.api.remove_network, network_id)

    def remove_when_released(self, name, network_id, seconds=RELEASE_SECONDS):
        """A service that left the network releases it once its tasks are replaced; retry until then."""
        def remove():
            return retry_while(
                lambda: self.client.call('Removing network %s' % name, self.client.api.remove_network, network_id),
                lambda exc: isinstance(exc, FabricError) and any(w in exc.msg for w in ('in use', 'active endpoints')),
                seconds, clock=self.clock)
        return self.writer.write('Removing network %s' % name, remove)

    def remove_if_present(self, what, network_id):
        """Remove a network; one that is already gone (a concurrent run removed it) is no error."""
        def remove():
            try:
                return self.client.api.remove_network(network_id)
            except APIError as exc:
                if getattr(exc, 'status_code', None) != 404:
                    raise
                return None
        return self.writer.write(what, remove)

    def disconnect(self, doing, container, network_id, note=''):
        return self.writer.write('%s%s: disconnecting container %s' % (doing, note, container['name']),
                                 _endpoints.disconnect, self.client, network_id, container['id'], doing)

    def connect(self, doing, container, network_id, settings=None):
        return self.writer.write('%s: connecting container %s' % (doing, container['name']), _endpoints.connect,
                                 self.client, network_id, container['id'],
                                 container['settings'] if settings is None else settings, doing)

    def reconnect(self, containers, network_id, doing):
        """Connect every container with its settings (static addresses first); the failures, as (name, reason)."""
        failures = []
        for container in static_first(containers):
            try:
                self.connect(doing, container, network_id)
            except FabricError as exc:
                failures.append((container['name'], exc.msg))
        return failures


def explain_create_error(body, message):
    """Turn the daemon's words on a failed create into what to do (macvlan parents above all)."""
    parent = (body.get('Options') or {}).get('parent')
    lower = message.lower()
    if parent and 'already using parent interface' in lower:
        return ('network %s: parent %s is already used by another macvlan network of the Docker host (Docker names '
                'it by a dummy interface, dm- and its short id), and Docker allows one macvlan network per parent '
                'interface. Use another parent or remove that network first. Docker said: %s'
                % (body['Name'], parent, message))
    if parent and ('parent interface' in lower or 'invalid subinterface' in lower or 'not found' in lower or 'no such' in lower
                   or 'link not found' in lower):
        if '.' in parent:
            return ('network %s: parent %s is a VLAN sub-interface that does not exist, and Docker could not create '
                    'it (is the 802.1q kernel module missing, or the base interface %s absent?). Create the '
                    'sub-interface on the host or use an existing parent. Docker said: %s'
                    % (body['Name'], parent, parent.split('.')[0], message))
        return ('network %s: parent interface %s does not exist on the Docker host. Set parent to an interface of '
                'that host. Docker said: %s' % (body['Name'], parent, message))
    if parent and '.' in parent and ('operation not supported' in lower or 'vlan' in lower):
        return ('network %s: parent %s needs an 802.1q VLAN link, which this host cannot make (8021q kernel '
                'module missing?). Use a parent without a VLAN id, or load 8021q on the host. Docker said: %s'
                % (body['Name'], parent, message))
    return message
