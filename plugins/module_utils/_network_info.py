# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: read-only view of a Docker host's networks: what exists and what is attached where.

Three listings answer nearly everything (networks, containers, services);
no per-network inspect. The network listing leaves out the attached
containers, but every container in the container listing names the networks
it sits on, so the join is done here. Only endpoint aliases are missing from
the container listing (Docker sends null there), so each container attached
to a selected network is inspected once, whatever the number of networks.
"""

from __future__ import annotations

import fnmatch

from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError
from ansible_collections.docknet.fabric.plugins.module_utils._endpoints import user_aliases
from ansible_collections.docknet.fabric.plugins.module_utils._network_view import network_view
from ansible_collections.docknet.fabric.plugins.module_utils._values import lenient_ip

# Docker's own names for IPAM pool keys -> the snake_case names modules use.
_IPAM_POOL_KEYS = (
    ('Subnet', 'subnet'),
    ('Gateway', 'gateway'),
    ('IPRange', 'ip_range'),
    ('AuxiliaryAddresses', 'aux_addresses'),
)


def ipam_pools(ipam):
    """Docker's IPAM.Config list in snake_case, keeping only the keys that are set."""
    pools = []
    for pool in (ipam or {}).get('Config') or []:
        pools.append({ours: pool[theirs] for theirs, ours in _IPAM_POOL_KEYS if pool.get(theirs)})
    return pools


def label_matches(labels, wanted):
    """``wanted`` is ``key`` (the label is set) or ``key=value`` (set to that value)."""
    key, sep, value = wanted.partition('=')
    if key not in labels:
        return False
    return not sep or labels[key] == value


def network_selected(network, names, drivers, labels):
    """Does a network from the listing pass the filters (all given filters must match)?"""
    if names and not any(
            network['Name'] == pattern or network['Id'] == pattern or fnmatch.fnmatchcase(network['Name'], pattern)
            for pattern in names):
        return False
    if drivers and network.get('Driver') not in drivers:
        return False
    own_labels = network.get('Labels') or {}
    return all(label_matches(own_labels, wanted) for wanted in labels or [])


def endpoints_of(container, network_ids_by_name):
    """(network id, endpoint) for each network a container (listed or inspected) is configured on.

    A container connected while stopped, and not started since, has an empty
    NetworkID: its endpoint is only keyed by the network's name.
    """
    networks = (container.get('NetworkSettings') or {}).get('Networks') or {}
    for network_name, endpoint in networks.items():
        network_id = endpoint.get('NetworkID') or network_ids_by_name.get(network_name)
        if network_id:
            yield network_id, endpoint


def attachments_by_network(containers, network_ids_by_name, aliases_of=None, dns_names_of=None):
    """Container listing -> {network id: [attached container summaries]}.

    ``aliases_of(container id, network id)`` supplies the aliases the listing lacks,
    ``dns_names_of`` the endpoint's DNSNames (API 1.44+; None where the API has none).
    """
    attached = {}
    for container in containers:
        name = (container.get('Names') or ['/' + container['Id'][:12]])[0].lstrip('/')
        short_id = container['Id'][:12]
        for network_id, endpoint in endpoints_of(container, network_ids_by_name):
            attached.setdefault(network_id, []).append({
                'name': name,
                'id': container['Id'],
                'running': container.get('State') == 'running',
                'ipv4_address': endpoint.get('IPAddress') or None,
                'ipv6_address': endpoint.get('GlobalIPv6Address') or None,
                'mac_address': endpoint.get('MacAddress') or None,
                # Docker before API 1.45 adds the container's short id as an
                # alias of its own; it says nothing the id does not.
                'aliases': sorted(a for a in (aliases_of(container['Id'], network_id) if aliases_of
                                              else endpoint.get('Aliases')) or [] if a != short_id),
                # Every name the embedded DNS answers for on this network (Docker 25+), as Docker gives it.
                'dns_names': (dns_names_of(container['Id'], network_id) if dns_names_of
                              else endpoint.get('DNSNames')),
            })
    for entries in attached.values():
        entries.sort(key=lambda entry: entry['name'])
    return attached


# A task the swarm no longer wants is history, not part of the service.
_PAST_TASK_STATES = frozenset(('shutdown', 'remove', 'orphaned'))


def tasks_by_service(tasks, nodes):
    """Task listing -> {service id: [tasks]}: the tasks the swarm wants, each with its node and addresses.

    ``addresses`` maps network id -> the task's addresses there (without the
    prefix length), as the manager recorded them when it allocated them: a
    dnsrr service has no virtual IP, so these are its addresses.
    """
    hostnames = dict((n['ID'], (n.get('Description') or {}).get('Hostname') or n['ID']) for n in nodes or [])
    found = {}
    for task in tasks or []:
        if task.get('DesiredState') in _PAST_TASK_STATES:
            continue
        status = task.get('Status') or {}
        addresses = {}
        for attachment in task.get('NetworksAttachments') or []:
            network_id = (attachment.get('Network') or {}).get('ID')
            if network_id:
                addresses[network_id] = [lenient_ip(a) for a in attachment.get('Addresses') or []]
        found.setdefault(task.get('ServiceID'), []).append({
            'id': task['ID'],
            'slot': task.get('Slot'),
            'node': hostnames.get(task.get('NodeID'), task.get('NodeID') or None),
            'node_id': task.get('NodeID') or None,
            'state': status.get('State'),
            'desired_state': task.get('DesiredState'),
            'error': status.get('Err') or None,
            'addresses': addresses,
        })
    for entries in found.values():
        entries.sort(key=lambda t: (t['slot'] is None, t['slot'] or 0, t['node'] or '', t['id']))
    return found


def _tasks_on(tasks, network_id):
    """The tasks of one service with their addresses on one network only."""
    return [dict(task, addresses=task['addresses'].get(network_id, [])) for task in tasks]


def services_by_network(services, network_names_to_ids, tasks=None):
    """Service listing -> {network id: [service summaries]}.

    With ``tasks`` (from ``tasks_by_service``), each service lists its tasks
    with their node and their addresses on that network.
    """
    attached = {}
    for service in services:
        spec = service.get('Spec') or {}
        vips = {vip.get('NetworkID'): vip.get('Addr')
                for vip in (service.get('Endpoint') or {}).get('VirtualIPs') or []}
        targets = (spec.get('TaskTemplate') or {}).get('Networks') or spec.get('Networks') or []
        for target in targets:
            network_id = network_names_to_ids.get(target.get('Target'), target.get('Target'))
            attached.setdefault(network_id, []).append({
                'name': spec.get('Name'),
                'id': service['ID'],
                'aliases': sorted(target.get('Aliases') or []),
                'virtual_ip': vips.get(network_id),
                'endpoint_mode': ((spec.get('EndpointSpec') or {}).get('Mode') or 'vip'),
            })
            if tasks is not None:
                attached[network_id][-1]['tasks'] = _tasks_on(tasks.get(service['ID'], []), network_id)
    for entries in attached.values():
        entries.sort(key=lambda entry: entry['name'])
    return attached


def describe_network(network, containers, services):
    """One network of the listing, in the shape network_info returns (the engines' view, and what is attached)."""
    described = {'name': network['Name'], 'id': network['Id']}
    described.update(network_view(network))
    described.update({
        'ipam_config': ipam_pools(network.get('IPAM')),
        'options': network.get('Options') or {},
        'labels': network.get('Labels') or {},
        'created': network.get('Created'),
        'containers': containers.get(network['Id'], []),
    })
    if services is not None:
        described['services'] = services.get(network['Id'], [])
    return described


def list_services_if_manager(client):
    """The service listing, or None when the host is not a swarm manager."""
    try:
        return client.api.services()
    except APIError as exc:
        # 503 is Docker's answer on a worker or outside a swarm.
        if getattr(exc, 'status_code', None) == 503:
            return None
        raise


def inspected_endpoints(client, containers, network_ids, network_ids_by_name):
    """{(container id, network id): endpoint as inspected}, inspecting each container on ``network_ids`` once."""
    on_selected = [c['Id'] for c in containers
                   if any(network_id in network_ids for network_id, _endpoint in endpoints_of(c, network_ids_by_name))]
    endpoints = {}
    for container_id in on_selected:
        try:
            inspected = client.api.inspect_container(container_id)
        except APIError:  # removed between the listing and now
            continue
        for network_id, endpoint in endpoints_of(inspected, network_ids_by_name):
            # Aliases without those Docker adds by itself (short id, hostname); DNSNames as Docker gives them.
            endpoints[(container_id, network_id)] = dict(endpoint,
                                                         Aliases=user_aliases(inspected, endpoint.get('Aliases')))
    return endpoints


def gather(client, names=None, drivers=None, labels=None):
    """Everything network_info returns: three listings (five on a manager with services), plus one inspect per attached container."""
    networks = client.call('Listing networks', client.api.networks)
    selected = [n for n in networks if network_selected(n, names, drivers, labels)]
    ids_by_name = {n['Name']: n['Id'] for n in networks}
    containers = {}
    if selected:
        listing = client.call('Listing containers', client.api.containers, all=True)
        endpoints = client.call('Inspecting attached containers', inspected_endpoints,
                                client, listing, {n['Id'] for n in selected}, ids_by_name)
        containers = attachments_by_network(
            listing, ids_by_name,
            lambda cid, nid: (endpoints.get((cid, nid)) or {}).get('Aliases'),
            lambda cid, nid: (endpoints.get((cid, nid)) or {}).get('DNSNames'))
    services = client.call('Listing services', list_services_if_manager, client)
    by_service = None
    if services is not None:
        tasks = None
        if services and selected:
            # Two more listings, never one inspect per task: the manager knows every task's node and addresses.
            tasks = tasks_by_service(client.call('Listing tasks', client.api.tasks),
                                     client.call('Listing nodes', client.api.nodes))
        by_service = services_by_network(services, ids_by_name, tasks)
    described = [describe_network(n, containers, by_service) for n in selected]
    described.sort(key=lambda entry: entry['name'])
    return {
        'networks': described,
        'swarm_manager': services is not None,
        'docker_api_version': client.api_version,
    }
