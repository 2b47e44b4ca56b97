# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: a network recreation made safe: what it would lose, and its record on the Docker host.

Docker cannot change a network, so a recreation disconnects every container,
removes the network, creates it again and reconnects them. If dockerd (or the
machine, or the Ansible controller) dies in between, the containers that were
not reconnected yet would lose their endpoint for good: nothing in Docker
remembers that they were on the network.

So before the first disconnect the engine stores a *record* on the Docker host:
an empty local volume named ``docknet-fabric-recreation-<hash of the network
name>`` whose labels hold the network's name, its driver, the body that makes
the old network again, and every container with its endpoint settings
(aliases, static IPv4/IPv6 addresses, links, driver options, MAC address).
Docker keeps volume metadata in its own database, written before the create
call returns, so the record survives a SIGKILL of dockerd and a reboot; it
needs no extra file, no access to the host's file system and nothing on the
controller. The record is removed as the last step of a recreation.

A later run of a network module that declares that network finds the record
first and *resumes*: it makes sure a network of that name exists (the old
settings are used when none does, so every static address fits), reconnects
every recorded container that is not on it with its recorded settings (static
addresses first, so no dynamic address can take them), and removes the record.
Only then does it compare and plan as usual. Containers removed since are
reported and skipped.

Before any of that, ``check_recreation`` refuses a recreation that would
lose something (a service's network, a static address outside the new pools
or on an address Docker keeps for itself) and makes its create body.

Everything but ``Journal`` is pure and tested by tables.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._network_view import actual_pools, create_body
from ansible_collections.docknet.fabric.plugins.module_utils._values import lenient_cidr, lenient_ip

RECORD_LABEL = 'docknet.fabric.recreation'            # value: the network's name
DRIVER_LABEL = 'docknet.fabric.recreation.driver'
DATA_LABEL = 'docknet.fabric.recreation.data'         # value: JSON, see ``make_record``
VOLUME_PREFIX = 'docknet-fabric-recreation-'
FORMAT = 1


def volume_name(network_name):
    """A valid volume name for any network name (Docker allows characters in network names volumes refuse)."""
    return VOLUME_PREFIX + hashlib.sha256(network_name.encode('utf-8')).hexdigest()[:24]


def make_record(network_name, driver, old_body, containers):
    """The labels of the record volume. ``containers``: the snapshot entries (id, name, settings)."""
    data = {
        'format': FORMAT,
        'network': network_name,
        'old': old_body,
        'containers': [{'id': c['id'], 'name': c['name'], 'settings': c['settings']} for c in containers],
    }
    return {RECORD_LABEL: network_name, DRIVER_LABEL: driver,
            DATA_LABEL: json.dumps(data, sort_keys=True, separators=(',', ':'))}


def parse_record(volume):
    """A volume listing entry -> the record (dict), or None when it is not a readable record."""
    labels = volume.get('Labels') or {}
    if RECORD_LABEL not in labels:
        return None
    try:
        data = json.loads(labels.get(DATA_LABEL) or '')
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get('format') != FORMAT:
        return None
    data['driver'] = labels.get(DRIVER_LABEL)
    data['volume'] = volume.get('Name')
    return data


def static_first(containers):
    """Reconnection order: endpoints with a static address first, so no dynamic address takes theirs."""
    return sorted(containers, key=lambda c: (not (c['settings'].get('ipv4_address') or c['settings'].get('ipv6_address')),
                                             c['name']))


# ---------------------------------------------------------------- what a recreation would lose (pure)

def check_recreation(plan, driver):
    """Refuse a recreation that would lose something; else the body that makes the network again.

    ``plan`` is the network engine's Recreate plan, with the containers and
    services read from the Docker host.
    """
    name, containers, services = plan.network, plan.containers, plan.services
    details = dict(network=name, containers=[c['name'] for c in containers], services=services)
    diff_text = ', '.join(plan.differences)
    if services:
        raise FabricError('network %s differs in %s and needs recreating, but swarm services use it: %s. '
                          'Remove the network from those services first.'
                          % (name, diff_text, ', '.join(services)), **details)
    if not plan.desired['recreate']:
        names = details['containers']
        attached = ('; attached containers: %s' % ', '.join(names)) if names else '; no containers attached'
        raise FabricError('network %s differs in %s; Docker cannot change a network, it must be recreated%s. '
                          'Set recreate: true to recreate it (containers are reconnected with their '
                          'settings).' % (name, diff_text, attached), **details)
    body = recreation_body(plan.desired, plan.current, driver)
    pools = [normalise_pool_lenient(p) for p in (body.get('IPAM') or {}).get('Config') or []]
    for container in containers:
        lost = addresses_fit(container['settings'], plan.desired['fields'].get('ipam_config'))
        if lost:
            raise FabricError('network %s: container %s has static address %s, outside the new ipam_config; '
                              'recreating would lose it. Change the container first.'
                              % (name, container['name'], ', '.join(lost)), **details)
    conflicts = address_conflicts(containers, pools)
    if conflicts:
        raise FabricError('network %s cannot be recreated: %s. Change ipam_config (gateway, aux_addresses) '
                          'or the containers first.' % (name, '; '.join(conflicts)), **details)
    return body


def addresses_fit(settings, pools):
    """Static addresses of an endpoint that the new pools would not contain (a recreation would lose them)."""
    if not pools:
        return []
    nets = [ipaddress.ip_network(p['subnet']) for p in pools]
    lost = []
    for key in ('ipv4_address', 'ipv6_address'):
        address = settings.get(key)
        if not address:
            continue
        ip = ipaddress.ip_address(address)
        same_family = [n for n in nets if n.version == ip.version]
        if same_family and not any(ip in n for n in same_family):
            lost.append(address)
    return lost


def normalise_pool_lenient(pool):
    """A Docker IPAM Config entry (create body form) -> our pool form."""
    out = {'subnet': lenient_cidr(pool['Subnet'])}
    if pool.get('Gateway'):
        out['gateway'] = lenient_ip(pool['Gateway'])
    if pool.get('AuxiliaryAddresses'):
        out['aux_addresses'] = dict((k, lenient_ip(v)) for k, v in pool['AuxiliaryAddresses'].items())
    return out


def recreation_body(desired, current, driver):
    """The create body of a recreation: the declared fields, and the current pools where none are declared.

    Without declared pools Docker would pick a subnet again, maybe another one,
    and the containers' static addresses would no longer fit.
    """
    fields = dict(desired['fields'])
    if 'ipam_config' not in fields and (fields.get('ipam_driver') or 'default') == 'default':
        pools = [dict((k, v) for k, v in p.items() if k != 'gateway' or v) for p in actual_pools(current)]
        if pools:
            fields['ipam_config'] = pools
    return create_body(dict(desired, fields=fields), driver)


def default_gateway(subnet):
    """The gateway Docker's default IPAM picks when none is given: the first address after the network's."""
    network = ipaddress.ip_network(subnet, strict=False)
    return str(network.network_address + 1)


def address_conflicts(containers, pools):
    """Static addresses of the containers that the new network would refuse, with the reason (pure)."""
    reserved = {}
    nets = []
    for pool in pools:
        try:
            net = ipaddress.ip_network(pool['subnet'], strict=False)
        except ValueError:
            continue
        nets.append(net)
        gateway = pool.get('gateway') or default_gateway(pool['subnet'])
        reserved[lenient_ip(gateway)] = 'the gateway of %s%s' % (net, '' if pool.get('gateway') else ' (Docker picks it)')
        for host, address in (pool.get('aux_addresses') or {}).items():
            reserved[lenient_ip(address)] = 'the auxiliary address %s' % host
        reserved[str(net.network_address)] = 'the network address of %s' % net
        if net.version == 4 and net.prefixlen < 31:
            reserved[str(net.broadcast_address)] = 'the broadcast address of %s' % net
    holders = {}
    found = []
    for container in containers:
        for key in ('ipv4_address', 'ipv6_address'):
            address = container['settings'].get(key)
            if not address:
                continue
            address = lenient_ip(address)
            if address in reserved:
                found.append('container %s has static address %s, which would be %s'
                             % (container['name'], address, reserved[address]))
            elif address in holders:
                found.append('containers %s and %s have the same static address %s'
                             % (holders[address], container['name'], address))
            holders[address] = container['name']
    return found


# ---------------------------------------------------------------- the record on the Docker host

class Journal:
    """Reads, writes and removes the records of one Docker host, through the task's writer."""

    def __init__(self, client, writer):
        self.client = client
        self.writer = writer
        self.pending = []   # records written (or found) and not removed yet: named in a failure

    def records(self):
        listing = self.client.call('Listing recreation records (volumes labelled %s)' % RECORD_LABEL,
                                   self.client.api.volumes, filters={'label': RECORD_LABEL}) or {}
        found = [parse_record(v) for v in listing.get('Volumes') or []]
        return [r for r in found if r]

    def write(self, network_name, driver, old_body, containers):
        name = volume_name(network_name)
        self.writer.write('Recording the endpoints of network %s on the Docker host (volume %s)' % (network_name, name),
                          self.client.api.create_volume, name, driver='local',
                          labels=make_record(network_name, driver, old_body, containers))
        return name

    def remove(self, record_volume, network_name):
        self.writer.write('Removing the recreation record of network %s (volume %s)' % (network_name, record_volume),
                          self.client.api.remove_volume, record_volume, force=True)
