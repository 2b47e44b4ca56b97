# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: container endpoints: what a container asked for on a network, and how to ask again.

Shared by network_attachment (which manages endpoints) and the network
modules (which must put every endpoint back after recreating a network).
An endpoint's *settings* are what the user configured and Docker keeps in the
container's configuration: aliases, static addresses, links, driver options
the MAC address and the gateway priority (API 1.48). Addresses Docker chose
itself are not settings.
"""

from __future__ import annotations

import re

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._writer import post_without_answer

SETTING_KEYS = ('aliases', 'ipv4_address', 'ipv6_address', 'links', 'driver_opts', 'mac_address', 'gw_priority')


def normalise_link(link):
    """Docker stores links as '/target:/me/alias'; users write 'target:alias' or 'target'."""
    target, sep, alias = link.partition(':')
    target = target.lstrip('/')
    alias = alias.rsplit('/', 1)[-1] if sep else target
    return '%s:%s' % (target, alias)


def automatic_aliases(container):
    """The aliases Docker gives a container on a user-defined network by itself.

    Docker before API 1.45 adds the container's short id, and Docker before 26
    also its hostname (``Config.Hostname``, the short id unless the container
    was created with one); Docker 26 and newer list both under ``DNSNames``
    instead. Either way they resolve on every connect without being asked
    for, so they are not settings: comparing them would reconnect such a
    container (a service task with ``hostname`` included) on every run.
    """
    automatic = {container['Id'][:12]}
    hostname = (container.get('Config') or {}).get('Hostname')
    if hostname:
        automatic.add(hostname)
    return automatic


def user_aliases(container, aliases):
    """``aliases`` without the ones Docker adds by itself (sorted, no repeats)."""
    automatic = automatic_aliases(container)
    return sorted(set(a for a in aliases or [] if a not in automatic))


def endpoint_settings(container, network_name, network_id=None):
    """The settings of ``container`` (an inspect result) on a network, or None when not attached.

    The aliases Docker adds by itself (``automatic_aliases``) are left out:
    nobody declared them and Docker adds them again on every connect.
    """
    networks = (container.get('NetworkSettings') or {}).get('Networks') or {}
    # Docker keys the endpoint by the network's name, or by the reference it was
    # connected with when it did not know the network yet (a stopped container
    # on a swarm worker). NetworkID is empty until the container first starts.
    endpoint = networks.get(network_name)
    if endpoint is None and network_id:
        endpoint = networks.get(network_id)
    if endpoint is None and network_id:
        endpoint = next((e for e in networks.values() if e and e.get('NetworkID') == network_id), None)
    if endpoint is None:
        return None
    ipam = endpoint.get('IPAMConfig') or {}
    mac = (endpoint.get('MacAddress') or '').lower() or None
    return {
        'aliases': user_aliases(container, endpoint.get('Aliases')),
        'ipv4_address': ipam.get('IPv4Address') or None,
        'ipv6_address': ipam.get('IPv6Address') or None,
        'links': sorted(normalise_link(link) for link in endpoint.get('Links') or []),
        'driver_opts': dict(endpoint.get('DriverOpts') or {}),
        'mac_address': mac,
        # Before API 1.48 there is no GwPriority: every endpoint has Docker's default, 0.
        'gw_priority': int(endpoint.get('GwPriority') or 0),
    }


def container_name(container):
    """The name of an inspect result (``Name``) or of a listing entry (``Names``, where links add '/other/alias')."""
    if container.get('Name'):
        return container['Name'].lstrip('/')
    names = [name.lstrip('/') for name in container.get('Names') or []]
    own = [name for name in names if '/' not in name]
    return (own or names or [container['Id'][:12]])[0]


def connect_kwargs(settings, keep_mac=True):
    """Docker SDK ``connect_container_to_network`` keyword arguments for ``settings``."""
    kwargs = {}
    if settings.get('aliases'):
        kwargs['aliases'] = list(settings['aliases'])
    if settings.get('ipv4_address'):
        kwargs['ipv4_address'] = settings['ipv4_address']
    if settings.get('ipv6_address'):
        kwargs['ipv6_address'] = settings['ipv6_address']
    if settings.get('links'):
        kwargs['links'] = [tuple(link.split(':', 1)) for link in settings['links']]
    if settings.get('driver_opts'):
        kwargs['driver_opt'] = dict(settings['driver_opts'])
    if keep_mac and settings.get('mac_address'):
        kwargs['mac_address'] = settings['mac_address']
    return kwargs


def snapshot(client, network):
    """Every container of this host attached to ``network`` (an inspect or listing entry), with its settings.

    Stopped containers are attached too (their configuration names the
    network) although ``docker network inspect`` does not show them, so the
    snapshot reads the container listing, filtered by the network, and
    inspects only those containers (the listing leaves out aliases and links).

    The filter names the network by name *and* id: Docker matches the id only
    against the endpoint's NetworkID, which stays empty for a container
    connected while stopped and not started since (checked on Docker 20.10).
    """
    attached = client.call('Listing the containers on network %s' % network['Name'],
                           client.api.containers, all=True,
                           filters={'network': [network['Name'], network['Id']]})
    found = []
    for summary in attached:
        container = client.call('Inspecting container %s' % summary['Id'][:12],
                                client.api.inspect_container, summary['Id'])
        settings = endpoint_settings(container, network['Name'], network['Id'])
        if settings is not None:
            found.append({'id': container['Id'], 'name': container_name(container),
                          'running': bool((container.get('State') or {}).get('Running')),
                          'settings': settings})
    found.sort(key=lambda entry: entry['name'])
    return found


def name_ids(text, names):
    """``text`` with every container id of ``names`` (id -> name), full or a prefix of 12 or more, replaced by the name.

    Docker's errors name containers by id ("container 3f1c... is not connected
    to the network"); users know them by name.
    """
    for container_id, name in names.items():
        if container_id and name:
            text = re.sub(r'\b%s[0-9a-f]*' % re.escape(container_id[:12]), name, text)
    return text


def _naming_failure(client, doing, container_id, method, *args, **kwargs):
    """``client.call``, whose failure names the container by its name (looked up only then)."""
    try:
        return client.call(doing % container_id[:12], method, *args, **kwargs)
    except FabricError as exc:
        try:
            name = container_name(client.api.inspect_container(container_id))
        except Exception:  # pylint: disable=broad-except  # gone, or the daemon went away: keep Docker's words
            raise exc
        raise FabricError(name_ids(exc.msg, {container_id: name}), **exc.details)


def disconnect(client, network_id, container_id, what):
    _naming_failure(client, '%s: disconnecting container %%s' % what, container_id,
                    client.api.disconnect_container_from_network, container_id, network_id, force=True)


def connect(client, network_id, container_id, settings, what):
    """Connect with ``settings``. The MAC address is only sent where the API honours it on connect (1.44),
    a gateway priority where the API has it (1.48; the Docker SDK does not know it yet)."""
    kwargs = connect_kwargs(settings, keep_mac=client.speaks_at_least('1.44'))
    doing = '%s: connecting container %%s' % what
    if settings.get('gw_priority') and client.speaks_at_least('1.48'):
        _naming_failure(client, doing, container_id, _connect_with_priority, client.api, container_id, network_id,
                        settings['gw_priority'], kwargs)
        return
    _naming_failure(client, doing, container_id, client.api.connect_container_to_network, container_id, network_id,
                    **kwargs)


def _connect_with_priority(api, container_id, network_id, priority, kwargs):
    """POST /networks/{id}/connect as the SDK would, plus EndpointConfig.GwPriority."""
    config = api.create_endpoint_config(**kwargs)
    config['GwPriority'] = priority
    post_without_answer(api, '/networks/{0}/connect', {'Container': container_id, 'EndpointConfig': config}, network_id)
