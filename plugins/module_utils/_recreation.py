# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recreation record: what a network recreation must put back, kept on the Docker host itself.

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

Everything but ``Journal`` is pure and tested by tables.
"""

from __future__ import annotations

import hashlib
import json

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
