# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reachability probes: what a container on given networks can resolve and reach.

A short-lived container joins the networks, resolves each target through
Docker's embedded DNS and tries to reach it (ICMP, or a TCP connect when a
port is given), prints one line per target and is removed. Only a POSIX
shell with nslookup, ping, nc and timeout is needed in the image (busybox).
"""

from __future__ import annotations

import shlex
import time
import uuid

from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError, FabricError

PROBE_LABEL = 'docknet.fabric.probe'
EXPECTATIONS = ('reachable', 'unreachable', 'any')

# One line per target: RESULT <name> <port or -> <addresses, comma-separated or -> <1|0>.
# nslookup prints the server first, then 'Name:' and the answers.
_SCRIPT_HEAD = r'''
probe() {
  name="$1"; port="$2"; wait_s="$3"
  case "$name" in
    *:*) addrs="$name" ;;
    *[!0-9.]*) addrs=$(nslookup "$name" 2>/dev/null | awk 'found && /^Address/ {print $NF} /^Name:/ {found=1}' | tr '\n' ',' | sed 's/,$//') ;;
    *) addrs="$name" ;;
  esac
  if [ -z "$addrs" ]; then echo "RESULT $name $port - 0"; return; fi
  if [ "$port" = "-" ]; then
    ping -c 1 -W "$wait_s" "$name" >/dev/null 2>&1 && ok=1 || ok=0
  else
    echo | timeout "$wait_s" nc "$name" "$port" >/dev/null 2>&1 && ok=1 || ok=0
  fi
  echo "RESULT $name $port $addrs $ok"
}
'''


def normalise_targets(targets):
    """Check and complete the user's targets; fails before any container is made."""
    normalised = []
    for index, target in enumerate(targets or []):
        where = 'targets[%d]' % index
        name = str(target.get('name') or '').strip()
        if not name or any(c.isspace() for c in name):
            raise FabricError('%s: name must be one DNS name or IP address, got %r.' % (where, target.get('name')))
        port = target.get('port')
        if port is not None and not 0 < int(port) < 65536:
            raise FabricError('%s (%s): port must be between 1 and 65535, got %s.' % (where, name, port))
        expect = target.get('expect') or 'reachable'
        if expect not in EXPECTATIONS:
            raise FabricError('%s (%s): expect must be one of %s.' % (where, name, ', '.join(EXPECTATIONS)))
        normalised.append({'name': name, 'port': int(port) if port is not None else None, 'expect': expect})
    return normalised


def build_script(targets, wait_seconds):
    lines = [_SCRIPT_HEAD]
    for target in targets:
        port = str(target['port']) if target['port'] is not None else '-'
        lines.append('probe %s %s %d' % (shlex.quote(target['name']), port, wait_seconds))
    return '\n'.join(lines)


def parse_output(output, targets):
    """The probe's lines -> one result per target, in the order asked."""
    seen = {}
    for line in output.splitlines():
        parts = line.strip().split(' ')
        if len(parts) == 5 and parts[0] == 'RESULT':
            _tag, name, port, addresses, ok = parts
            seen[(name, None if port == '-' else int(port))] = (
                [] if addresses == '-' else addresses.split(','), ok == '1')
    results = []
    for target in targets:
        addresses, reachable = seen.get((target['name'], target['port']), ([], False))
        results.append({
            'name': target['name'],
            'port': target['port'],
            'addresses': addresses,
            'resolved': bool(addresses),
            'reachable': reachable,
            'expect': target['expect'],
            'as_expected': target['expect'] == 'any' or reachable == (target['expect'] == 'reachable'),
        })
    return results


def run_probe(client, image, networks, targets, wait_seconds=2, timeout=120):
    """Run the probe container on ``networks`` and return its per-target results."""
    if not networks:
        raise FabricError('networks: give at least one network for the probe to join.')
    known = {n['Name']: n for n in client.call('Listing networks', client.api.networks)}
    known.update({n['Id']: n for n in known.values()})
    name = 'docknet-probe-%s' % uuid.uuid4().hex[:10]
    first = networks[0]
    container = client.call(
        'Creating probe container on %s' % first, client.api.create_container,
        image, command=['sh', '-c', build_script(targets, wait_seconds)], name=name,
        labels={PROBE_LABEL: 'true'},
        host_config=client.api.create_host_config(network_mode=first),
        networking_config=client.api.create_networking_config({first: client.api.create_endpoint_config()}))
    try:
        for network in networks[1:]:
            client.call('Connecting the probe to %s' % network, client.api.connect_container_to_network,
                        container['Id'], known.get(network, {}).get('Id', network))
        client.call('Starting the probe on %s' % ', '.join(networks), client.api.start, container['Id'])
        deadline = time.time() + timeout
        while client.api.inspect_container(container['Id'])['State']['Running']:
            if time.time() > deadline:
                raise FabricError('The probe on %s did not finish within %d seconds.' % (', '.join(networks), timeout))
            time.sleep(0.2)
        output = client.api.logs(container['Id'], stdout=True, stderr=False).decode('utf-8', 'replace')
    finally:
        try:
            client.api.remove_container(container['Id'], force=True)
        except APIError:
            pass
    return parse_output(output, targets)
