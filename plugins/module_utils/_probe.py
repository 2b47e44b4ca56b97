# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: reachability probes: what a container on given networks can resolve and reach.

A short-lived container joins the networks, resolves each target through
Docker's embedded DNS and tries to reach every address the name resolves to
(ICMP, or a TCP connect when a port is given), prints one line per address
and is removed. In the same run it can make N HTTP requests to one name and
count the answers per backend (the load-balancing spread). Only a POSIX
shell with nslookup, ping, nc and timeout is needed in the image (busybox).
"""

from __future__ import annotations

import ipaddress
import shlex
import uuid

from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError, FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._wait import REAL_CLOCK, retry_while, wait_until
from ansible_collections.docknet.fabric.plugins.module_utils._writer import Writer

PROBE_LABEL = 'docknet.fabric.probe'
EXPECTATIONS = ('reachable', 'unreachable', 'any')
MATCHES = ('all', 'any')

# The probe prints, per target (numbered in the order asked, so a target given twice is
# probed and reported twice): "UNRESOLVED <index>" when the name gave no address, else one
# "ANSWER <index> <address> <1|0>" per address the name resolved to. Every address is tried,
# in parallel: a dnsrr service with a dead replica must not pass on its live ones.
# nslookup prints the server first, then 'Name:' and the answers.
_SCRIPT_HEAD = r"""
probe() {
  index="$1"; name="$2"; port="$3"; wait_s="$4"
  case "$name" in
    *:*) addrs="$name" ;;
    *[!0-9.]*) addrs=$(nslookup "$name" 2>/dev/null | awk 'found && /^Address/ {print $NF} /^Name:/ {found=1}' | sort -u) ;;
    *) addrs="$name" ;;
  esac
  if [ -z "$addrs" ]; then echo "UNRESOLVED $index"; return; fi
  for addr in $addrs; do
    (
      if [ "$port" = "-" ]; then
        ping -c 1 -W "$wait_s" "$addr" >/dev/null 2>&1 && ok=1 || ok=0
      else
        echo | timeout "$wait_s" nc "$addr" "$port" >/dev/null 2>&1 && ok=1 || ok=0
      fi
      echo "ANSWER $index $addr $ok"
    ) &
  done
  wait
}
spread() {
  name="$1"; port="$2"; path="$3"; count="$4"; wait_s="$5"; i=0
  while [ "$i" -lt "$count" ]; do
    body=$(timeout "$wait_s" wget -q -O - "http://$name:$port$path" 2>/dev/null | head -n 1 | tr -d '\r' | tr ' \t' '__')
    echo "HIT ${body:--}"
    i=$((i + 1))
  done
}
"""


def _positive_seconds(value, where):
    """Durations are whole seconds >= 1: 0 would mean 'no limit' to timeout(1), negatives nothing."""
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        seconds = None
    if seconds is None or seconds < 1 or str(value).strip() != str(seconds):
        raise FabricError('%s: give a whole number of seconds of at least 1, got %r.' % (where, value))
    return seconds


def normalise_wait(value):
    return _positive_seconds(value, 'wait')


def normalise_settle(value):
    """Seconds to keep probing while a result is unexpected: a whole number, 0 (probe once) or more."""
    if str(value).strip() == '0':
        return 0
    try:
        return _positive_seconds(value, 'settle')
    except FabricError:
        raise FabricError('settle: give a whole number of seconds, 0 (probe once) or more, got %r.' % (value,))


# Between two probes while a result settles: gossip brings a new task's name to the other nodes in seconds.
SETTLE_PAUSE = 3


def probe_until_expected(attempt, settle_seconds, clock=REAL_CLOCK, pause=SETTLE_PAUSE):
    """Call ``attempt()`` again while it reports something unexpected, for up to ``settle_seconds``.

    ``attempt`` returns ``(outcome, unexpected)``; the last attempt's pair comes back with the number of
    attempts. The last attempt starts when the settle time is over. Right after a task starts, its name
    reaches the other nodes' DNS a few seconds later, so a policy or spread check that probes once can
    fail on a swarm that is about to be right. A real difference stays, as the last attempt saw it.
    """
    deadline = clock.now() + settle_seconds
    attempts = 0
    while True:
        outcome, unexpected = attempt()
        attempts += 1
        left = deadline - clock.now()
        if not unexpected or left <= 0:
            return outcome, unexpected, attempts
        clock.sleep(min(pause, left))


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
        match = target.get('match') or 'all'
        if match not in MATCHES:
            raise FabricError('%s (%s): match must be one of %s.' % (where, name, ', '.join(MATCHES)))
        normalised.append({'name': name, 'port': int(port) if port is not None else None,
                           'expect': expect, 'match': match})
    return normalised


def normalise_spread(spread):
    """The load-balancing spread request, checked; None when not asked for."""
    if not spread:
        return None
    name = str(spread.get('name') or '').strip()
    if not name or any(c.isspace() or c in '/:@' for c in name):
        raise FabricError('spread.name: give one DNS name (a service or tasks.<service>), got %r.' % spread.get('name'))
    port = int(spread.get('port') or 80)
    if not 0 < port < 65536:
        raise FabricError('spread.port: must be between 1 and 65535, got %s.' % port)
    path = str(spread.get('path') or '/')
    if not path.startswith('/') or any(c.isspace() or c in '\'"`$\\' for c in path):
        raise FabricError('spread.path: give a URL path starting with / (no blanks or quotes), got %r.' % path)
    requests = spread.get('requests')
    requests = 30 if requests is None else requests
    if not 0 < int(requests) <= 10000:
        raise FabricError('spread.requests: give 1 to 10000 requests, got %s.' % requests)
    min_backends = int(spread.get('min_backends') or 1)
    if min_backends < 1:
        raise FabricError('spread.min_backends: must be at least 1, got %s.' % min_backends)
    return {'name': name, 'port': port, 'path': path, 'requests': int(requests), 'min_backends': min_backends}


def build_script(targets, wait_seconds, spread=None):
    lines = [_SCRIPT_HEAD]
    for index, target in enumerate(targets):
        port = str(target['port']) if target['port'] is not None else '-'
        lines.append('probe %d %s %s %d' % (index, shlex.quote(target['name']), port, wait_seconds))
    if spread:
        lines.append('spread %s %d %s %d %d' % (shlex.quote(spread['name']), spread['port'],
                                                shlex.quote(spread['path']), spread['requests'], wait_seconds))
    return '\n'.join(lines)


def judge(target, per_address, resolved):
    """One target's result from its per-address answers; ``expect`` applies to all or any addresses."""
    answered = [a['address'] for a in per_address if a['reachable']]
    silent = [a['address'] for a in per_address if not a['reachable']]
    quantifier = all if target['match'] == 'all' else any
    reachable = bool(per_address) and quantifier(a['reachable'] for a in per_address)
    if target['expect'] == 'any':
        as_expected = True
    elif not resolved:
        as_expected = target['expect'] == 'unreachable'
    else:
        wanted = target['expect'] == 'reachable'
        as_expected = quantifier(a['reachable'] == wanted for a in per_address)
    failure = None
    if not as_expected:
        if not resolved:
            failure = 'the name did not resolve'
        elif target['expect'] == 'reachable':
            failure = 'no answer from %s' % ', '.join(silent)
        else:
            failure = 'answered from %s' % ', '.join(answered)
    return {
        'name': target['name'],
        'port': target['port'],
        'addresses': [a['address'] for a in per_address],
        'per_address': per_address,
        'resolved': resolved,
        'reachable': reachable,
        'expect': target['expect'],
        'match': target['match'],
        'as_expected': as_expected,
        'failure': failure,
    }


def count_spread(lines, spread):
    """HIT lines -> answers per backend (a backend names itself in the first line of its answer)."""
    backends = {}
    failed = 0
    for body in lines:
        if body == '-':
            failed += 1
        else:
            backends[body] = backends.get(body, 0) + 1
    answered = sum(backends.values())
    return {
        'name': spread['name'],
        'port': spread['port'],
        'path': spread['path'],
        'requests': spread['requests'],
        'answered': answered,
        'failed': failed,
        'backends': backends,
        'distinct_backends': len(backends),
        'as_expected': len(backends) >= spread['min_backends'] and failed == 0,
    }


def parse_output(output, targets, spread=None):
    """The probe's lines -> one result per target, in the order asked (and the spread, if asked)."""
    answers = {index: [] for index in range(len(targets))}
    unresolved = set()
    hits = []
    for line in output.splitlines():
        parts = line.strip().split(' ')
        if len(parts) == 4 and parts[0] == 'ANSWER' and parts[1].isdigit() and int(parts[1]) in answers:
            entry = {'address': parts[2], 'reachable': parts[3] == '1'}
            if entry['address'] not in [a['address'] for a in answers[int(parts[1])]]:
                answers[int(parts[1])].append(entry)
        elif len(parts) == 2 and parts[0] == 'UNRESOLVED' and parts[1].isdigit():
            unresolved.add(int(parts[1]))
        elif len(parts) == 2 and parts[0] == 'HIT':
            hits.append(parts[1])
    results = []
    for index, target in enumerate(targets):
        per_address = sorted(answers[index], key=lambda a: _address_key(a['address']))
        # No line at all (the probe was cut short) counts as not resolved, not reached.
        results.append(judge(target, per_address, resolved=bool(per_address) and index not in unresolved))
    if spread is None:
        return results
    return results, count_spread(hits, spread)


def _address_key(address):
    """Addresses in numeric order (IPv4 before IPv6), so results compare across runs."""
    try:
        parsed = ipaddress.ip_address(address)
        return (parsed.version, int(parsed))
    except ValueError:
        return (9, 0)


def describe_unexpected(result):
    """One line for a result that is not as expected: which target, what was expected, what happened."""
    where = '%s%s' % (result['name'], ':%d' % result['port'] if result['port'] else '')
    scope = ''
    if len(result['addresses']) > 1:
        scope = ' on %s addresses' % ('every one of %d' % len(result['addresses']) if result['match'] == 'all' else 'any of the')
    return '%s (expected %s%s): %s' % (where, result['expect'], scope, result['failure'])


# How long a start may wait for the node to learn of a swarm network made moments before.
NETWORK_PROPAGATION_SECONDS = 15


def _start_when_networks_known(client, container_id, networks, clock=REAL_CLOCK):
    """Start the probe; retry while the daemon does not know an attachable overlay yet.

    A node learns of a new attachable overlay from the managers, shortly after it is created:
    Docker 26 can refuse a start in that window ("could not find a network matching network mode").
    """
    doing = 'Starting the probe on %s' % ', '.join(networks)
    writer = Writer(client, check_mode=False)
    return retry_while(lambda: writer.write(doing, client.api.start, container_id),
                       lambda exc: isinstance(exc, FabricError)
                       and 'could not find a network matching network mode' in exc.msg,
                       NETWORK_PROPAGATION_SECONDS, clock=clock)


def _remove_if_present(client, container_id):
    try:
        client.api.remove_container(container_id, force=True)
    except APIError:
        pass    # already gone (or being removed): nothing is left behind either way


def run_probe(client, image, networks, targets, wait_seconds=2, timeout=120, spread=None, clock=REAL_CLOCK):
    """Run the probe container on ``networks`` and return its per-target results (and the spread)."""
    if not networks:
        raise FabricError('networks: give at least one network for the probe to join.')
    known = {n['Name']: n for n in client.call('Listing networks', client.api.networks)}
    known.update({n['Id']: n for n in known.values()})
    name = 'docknet-probe-%s' % uuid.uuid4().hex[:10]
    first = networks[0]
    # The probe's own short-lived container is the only thing it makes, and it is removed whatever happens.
    writer = Writer(client, check_mode=False)
    container = writer.write(
        'Creating probe container on %s' % first, client.api.create_container,
        image, command=['sh', '-c', build_script(targets, wait_seconds, spread)], name=name,
        labels={PROBE_LABEL: 'true'},
        host_config=client.api.create_host_config(network_mode=first),
        networking_config=client.api.create_networking_config({first: client.api.create_endpoint_config()}))
    try:
        for network in networks[1:]:
            writer.write('Connecting the probe to %s' % network, client.api.connect_container_to_network,
                         container['Id'], known.get(network, {}).get('Id', network))
        _start_when_networks_known(client, container['Id'], networks, clock)
        wait_until(lambda: not client.api.inspect_container(container['Id'])['State']['Running'], timeout,
                   'for the probe on %s to finish' % ', '.join(networks), step=0.2, clock=clock)
        output = client.api.logs(container['Id'], stdout=True, stderr=False).decode('utf-8', 'replace')
    finally:
        writer.write('Removing the probe container', _remove_if_present, client, container['Id'])
    return parse_output(output, targets, spread)
