# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the network network_attachment joins: found, checked, and its free addresses.

``find_network`` reads the network (a swarm worker may not know an attachable
overlay yet: it is joined by name), ``check_network`` refuses networks a
running container cannot join, and ``check_static_addresses`` refuses a
static address outside the network's pools, on an address Docker keeps for
itself (gateways, auxiliary addresses) or held by another container.
Everything but ``find_network`` is pure and tested by tables.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError, FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._endpoints import container_name
from ansible_collections.docknet.fabric.plugins.module_utils._values import ip_or_none


def _inspect_network_or_none(client, reference):
    try:
        return client.api.inspect_network(reference)
    except APIError as exc:
        if getattr(exc, 'status_code', None) == 404:
            return None
        raise


def find_network(client, reference):
    """The network (an inspect result), or a stand-in for a swarm network this worker does not know yet.

    A worker learns an attachable overlay only when a container of its own
    uses it; until then inspect answers 404, but connecting by name or id
    works (the worker asks a manager). Anywhere else a 404 means the network
    does not exist.
    """
    network = client.call('Inspecting network %s' % reference, _inspect_network_or_none, client, reference)
    if network is not None:
        return network
    swarm = (client.call('Asking the daemon whether it is a swarm worker', client.api.info) or {}).get('Swarm') or {}
    if swarm.get('LocalNodeState') == 'active' and not swarm.get('ControlAvailable'):
        return {'Name': reference, 'Id': None, 'Remote': True}
    raise FabricError('Network %s does not exist on the Docker host %s. Create it first, '
                      'or check the name.' % (reference, client.docker_host))


def check_network(network, declared):
    """Networks standalone containers cannot join, or not with these settings."""
    if network.get('Remote'):
        return
    name, driver = network['Name'], network.get('Driver')
    if driver in ('host', 'null'):
        raise FabricError('Network %s (driver %s) cannot be joined by a running container; a container gets it '
                          'only when it is created.' % (name, driver))
    if network.get('ConfigOnly'):
        raise FabricError('Network %s is a configuration-only network; containers join the networks created '
                          'from it (config_from), not the network itself.' % name)
    if network.get('Ingress'):
        raise FabricError('Network %s is the swarm routing mesh (ingress); containers cannot be attached to it.' % name)
    if network.get('Scope') == 'swarm' and not network.get('Attachable'):
        raise FabricError('Network %s is a swarm network that is not attachable: only services can use it. '
                          'Recreate it with attachable: true.' % name)
    default_bridge = (network.get('Options') or {}).get('com.docker.network.bridge.default_bridge') == 'true'
    if default_bridge:
        unsupported = [key for key in ('aliases', 'ipv4_address', 'ipv6_address') if declared.get(key)]
        if unsupported:
            raise FabricError('Network %s is the default bridge, where Docker allows no %s. Use a user-defined network.'
                              % (name, ', '.join(unsupported)))


def _pools(network):
    pools = []
    for pool in (network.get('IPAM') or {}).get('Config') or []:
        try:
            pools.append(ipaddress.ip_network(pool['Subnet'], strict=False))
        except (KeyError, ValueError):
            continue
    return pools


def default_gateway(pool):
    """The gateway Docker's default IPAM gives a pool declared without one, or None.

    It takes the first address of the pool's ip_range (of the subnet when
    there is none) that is not the subnet's own address: 10.5.0.1 for
    10.5.0.0/24, 10.5.0.128 for ip_range 10.5.0.128/25 (checked on Docker
    20.10). ``docker network inspect`` does not show it then, but the address
    is taken: a container given it fails to start ("Address already in use").
    """
    try:
        subnet = ipaddress.ip_network(pool['Subnet'], strict=False)
        first = ipaddress.ip_network(pool.get('IPRange') or pool['Subnet'], strict=False).network_address
    except (KeyError, ValueError):
        return None
    if first == subnet.network_address:
        first += 1
    return str(first) if first in subnet else None


def _endpoint_gateways(network, summaries):
    """The gateways the containers of the listing see on the network (what Docker really uses)."""
    found = set()
    for summary in summaries:
        networks = (summary.get('NetworkSettings') or {}).get('Networks') or {}
        endpoint = networks.get(network['Name']) or next(
            (e for e in networks.values() if e and network.get('Id') and e.get('NetworkID') == network['Id']), None)
        for key in ('Gateway', 'IPv6Gateway'):
            if endpoint and endpoint.get(key) and ip_or_none(endpoint[key]):
                found.add(ip_or_none(endpoint[key]))
    return found


def _reserved(network, summaries=()):
    """Addresses of the network Docker keeps for itself: gateways (declared, or chosen by Docker) and auxiliary addresses."""
    reserved = {}
    ipam = network.get('IPAM') or {}
    default_ipam = (ipam.get('Driver') or 'default') == 'default'
    for pool in ipam.get('Config') or []:
        if pool.get('Gateway'):
            reserved[ip_or_none(pool['Gateway'])] = 'the gateway'
        elif default_ipam and default_gateway(pool):
            reserved[default_gateway(pool)] = 'the gateway Docker chose itself (pool %s declares none)' % pool['Subnet']
        for key, address in (pool.get('AuxiliaryAddresses') or {}).items():
            reserved[ip_or_none(address)] = 'the auxiliary address %s' % key
    for gateway in _endpoint_gateways(network, summaries):
        reserved.setdefault(gateway, 'the gateway')
    return reserved


def _used_addresses(network, attached, target_id):
    """Address -> who holds it: the running endpoints, and the static addresses of every attached container."""
    used = {}
    for container_id, endpoint in (network.get('Containers') or {}).items():
        if container_id == target_id:
            continue
        for key in ('IPv4Address', 'IPv6Address'):
            if endpoint.get(key) and ip_or_none(endpoint[key]):
                used[ip_or_none(endpoint[key])] = 'container %s' % (endpoint.get('Name') or container_id[:12])
    for entry in attached.values():
        if entry['id'] == target_id:
            continue
        for key in ('ipv4_address', 'ipv6_address'):
            if entry['settings'][key] and ip_or_none(entry['settings'][key]):
                used[ip_or_none(entry['settings'][key])] = 'container %s' % entry['name']
    return used


def check_static_addresses(network, declared, selected, attached, summaries=()):
    """A static address needs exactly one container, a pool of the network that holds it, and nobody else on it.

    ``summaries`` (the container listing) tell the gateway Docker really uses,
    which the network's inspect leaves out when the pool declares none.
    """
    keys = [key for key in ('ipv4_address', 'ipv6_address') if declared.get(key)]
    if not keys:
        return
    if len(selected) > 1:
        raise FabricError('%s can be given only when exactly one container is selected; the selection matches %d: %s. '
                          'Narrow containers or container_labels, or use one task per container.'
                          % (' and '.join(keys), len(selected), ', '.join(container_name(s) for s in selected)))
    if network.get('Remote') or not selected:
        return
    pools = _pools(network)
    reserved = _reserved(network, summaries)
    used = _used_addresses(network, attached, selected[0]['Id'])
    for key in keys:
        address = ipaddress.ip_address(declared[key])
        family = [pool for pool in pools if pool.version == address.version]
        if not family:
            raise FabricError('%s %s: network %s has no IPv%d pool. Static addresses need a network created with a '
                              'subnet of that family.' % (key, address, network['Name'], address.version))
        if not any(address in pool for pool in family):
            raise FabricError('%s %s is outside the pools of network %s (%s). Pick an address inside one of them.'
                              % (key, address, network['Name'], ', '.join(str(pool) for pool in family)))
        if any(address == pool.network_address or (address.version == 4 and address == pool.broadcast_address)
               for pool in family if pool.prefixlen < pool.max_prefixlen - 1):
            raise FabricError('%s %s is the network or broadcast address of a pool of network %s. Pick another.'
                              % (key, address, network['Name']))
        holder = reserved.get(str(address)) or used.get(str(address))
        if holder:
            raise FabricError('%s %s is already used on network %s by %s. Pick a free address.'
                              % (key, address, network['Name'], holder))
