# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: network_attachment's engine: which containers of one host sit on a network, and how.

The cycle: normalise the request → read the network (one inspect) and every
container of the host (one listing, which says which containers sit on the
network, running or stopped) → select the containers → inspect only those
already on the network (the listing leaves out aliases and links) → compare
the declared endpoint settings with the actual ones → plan connect /
disconnect / reconnect actions → apply them (``apply`` writes, through the
recording ``_writer.Writer`` that stops in check mode).
"""

from __future__ import annotations

import fnmatch
import re

from ansible_collections.docknet.fabric.plugins.module_utils._attachment_network import (
    check_network,
    check_static_addresses,
    find_network,
)
from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError, FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._values import address_of_family, ip_or_none
from ansible_collections.docknet.fabric.plugins.module_utils._writer import Writer
from ansible_collections.docknet.fabric.plugins.module_utils._endpoints import (
    SETTING_KEYS,
    automatic_aliases,
    connect,
    container_name,
    disconnect,
    endpoint_settings,
    normalise_link,
)

MODULE = 'network_attachment'
SWARM_TASK_LABEL = 'com.docker.swarm.task.id'
_MAC = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
_HEX = re.compile(r'^[0-9a-f]+$')
_EMPTY = {'aliases': [], 'ipv4_address': None, 'ipv6_address': None, 'links': [], 'driver_opts': {},
          'mac_address': None, 'gw_priority': 0}
# Settings shown in the diff and results only when declared: Docker fills them in for every endpoint.
_SHOWN_WHEN_DECLARED = ('mac_address', 'gw_priority')


# --- normalise the request -------------------------------------------------------------------

def normalise_request(params):
    """Module parameters -> the desired state. Bad input fails here, before any API call."""
    containers = [c.strip() for c in params.get('containers') or [] if c and c.strip()]
    labels = params.get('container_labels') or {}
    if not containers and not labels:
        raise FabricError('Give containers (names, ids or patterns like web_*) or container_labels to select '
                          'the containers to %s.' % ('attach' if params.get('state', 'present') == 'present' else 'detach'))
    labels = {str(key): (None if value is None else str(value)) for key, value in labels.items()}
    declared = {}
    if params.get('aliases') is not None:
        declared['aliases'] = sorted(set(a.strip() for a in params['aliases'] if a and a.strip()))
    if params.get('ipv4_address'):
        declared['ipv4_address'] = address_of_family(params['ipv4_address'], 4, 'ipv4_address')
    if params.get('ipv6_address'):
        declared['ipv6_address'] = address_of_family(params['ipv6_address'], 6, 'ipv6_address')
    if params.get('links') is not None:
        declared['links'] = sorted(set(normalise_link(link.strip()) for link in params['links'] if link and link.strip()))
    if params.get('driver_opts') is not None:
        declared['driver_opts'] = {str(k): str(v) for k, v in params['driver_opts'].items()}
    if params.get('mac_address'):
        mac = str(params['mac_address']).strip().lower().replace('-', ':')
        if not _MAC.match(mac):
            raise FabricError('mac_address: %r is not a MAC address. Give six hex pairs like 02:42:ac:11:00:05.'
                              % params['mac_address'])
        declared['mac_address'] = mac
    if params.get('gw_priority') is not None:
        declared['gw_priority'] = int(params['gw_priority'])
    state = params.get('state') or 'present'
    if state == 'absent':
        if declared:
            raise FabricError('%s only apply to state=present; state=absent detaches the containers whatever their '
                              'settings. Leave them out.' % ', '.join(sorted(declared)))
        if params.get('exclusive'):
            raise FabricError('exclusive applies to state=present only (it detaches the containers not selected). '
                              'Leave it out with state=absent.')
    return {
        'network': str(params['network']).strip(),
        'containers': containers,
        'container_labels': labels,
        'state': state,
        'declared': declared,
        'exclusive': bool(params.get('exclusive')),
        'missing': params.get('missing') or 'fail',
    }


# --- select ----------------------------------------------------------------------------------

def is_pattern(text):
    return any(ch in text for ch in '*?[')


def matches_reference(summary, reference):
    """``reference`` is a name, a shell-style pattern, or an id (full, or a prefix of 12 characters or more)."""
    name = container_name(summary)
    if reference == name:
        return True
    if _HEX.match(reference) and len(reference) >= 12 and summary['Id'].startswith(reference):
        return True
    return is_pattern(reference) and fnmatch.fnmatchcase(name, reference)


def labels_match(summary, wanted):
    """Every wanted label is set (value None: to anything) on the container."""
    return labels_have(summary.get('Labels'), wanted)


def labels_have(labels, wanted):
    """Every wanted label is set (value None: to anything) in ``labels``."""
    labels = labels or {}
    return all(key in labels and (value is None or labels[key] == value) for key, value in wanted.items())


def _describe_selection(request):
    parts = []
    if request['containers']:
        parts.append('containers %s' % ', '.join(request['containers']))
    if request['container_labels']:
        parts.append('container_labels %s' % ', '.join(
            key if value is None else '%s=%s' % (key, value) for key, value in sorted(request['container_labels'].items())))
    return ' with '.join(parts)


def select(summaries, request):
    """The listing entries selected by the request, and what part of the selection found nothing.

    A container is selected when it matches one of ``containers`` (when given)
    and carries every label of ``container_labels`` (when given). Missing are:
    each plain name or id that selects no container, and the whole selection
    when it selects nothing at all.
    """
    references, labels = request['containers'], request['container_labels']
    selected, missing = [], []
    for summary in summaries:
        if references and not any(matches_reference(summary, ref) for ref in references):
            continue
        if labels and not labels_match(summary, labels):
            continue
        selected.append(summary)
    for ref in references:
        if not is_pattern(ref) and not any(matches_reference(s, ref) for s in selected):
            missing.append('container %s' % ref)
    if not selected and not missing:
        missing.append(_describe_selection(request))
    selected.sort(key=container_name)
    return selected, missing


# --- read the actual state -------------------------------------------------------------------

def on_network(summary, network):
    """Does a listing entry (or an inspect result) name the network among its endpoints?"""
    return endpoint_settings(summary, network['Name'], network.get('Id')) is not None


def read_attached(client, network, summaries):
    """Container id -> name, labels and endpoint settings, for the containers of this host on the network.

    The listing says which containers are attached, running or stopped, but
    leaves out aliases and links: only those containers are inspected.
    """
    attached = {}
    for summary in summaries:
        if not on_network(summary, network):
            continue
        container = client.call('Inspecting container %s' % container_name(summary),
                                client.api.inspect_container, summary['Id'])
        settings = endpoint_settings(container, network['Name'], network.get('Id'))
        if settings is not None:
            attached[container['Id']] = {'id': container['Id'], 'name': container_name(container),
                                         'labels': (container.get('Config') or {}).get('Labels') or {},
                                         'settings': settings, 'automatic': automatic_aliases(container)}
    return attached


# --- compare and plan ------------------------------------------------------------------------

def differences(actual, declared, automatic=()):
    """The declared settings that differ from the actual ones: {key: (actual, declared)}.

    ``automatic`` are the aliases Docker gives the container by itself (its
    short id, its hostname): left out of the actual aliases already, they are
    left out of the declared ones too, so declaring one is no difference.
    """
    found = {}
    for key in SETTING_KEYS:
        if key not in declared:
            continue
        have, want = actual.get(key), declared[key]
        if key in ('ipv4_address', 'ipv6_address'):
            have = ip_or_none(have) if have else None
        if key in ('aliases', 'links'):
            have, want = sorted(set(have or [])), sorted(set(want or []))
        if key == 'aliases':
            want = [alias for alias in want if alias not in automatic]
        if key == 'driver_opts':
            have = {str(k): str(v) for k, v in (have or {}).items()}
        if key == 'mac_address':
            have = (have or '').lower() or None
        if key == 'gw_priority':
            have = int(have or 0)
        if have != want:
            found[key] = (have, want)
    return found


def wanted_settings(actual, declared):
    """What an endpoint should have: the declared settings over the actual ones (nothing undeclared is lost)."""
    settings = dict(_EMPTY)
    if actual:
        settings.update({key: actual.get(key) for key in SETTING_KEYS})
    settings.update(declared)
    return settings


def plan(request, selected, attached):
    """The actions that take this host from its actual state to the requested one."""
    declared = request['declared']
    actions = []
    for summary in selected:
        entry = attached.get(summary['Id'])
        actual = entry['settings'] if entry else None
        name = container_name(summary)
        if request['state'] == 'absent':
            if actual is not None:
                actions.append({'action': 'disconnect', 'container': name, 'id': summary['Id'],
                                'before': actual, 'after': None})
            continue
        if actual is None:
            actions.append({'action': 'connect', 'container': name, 'id': summary['Id'],
                            'before': None, 'after': wanted_settings(None, declared)})
            continue
        changed = differences(actual, declared, entry.get('automatic', ()))
        if changed:
            actions.append({'action': 'reconnect', 'container': name, 'id': summary['Id'],
                            'before': actual, 'after': wanted_settings(actual, declared),
                            'changes': sorted(changed)})
    if request['exclusive']:
        chosen = set(s['Id'] for s in selected)
        for entry in sorted(attached.values(), key=lambda e: e['name']):
            # Containers of swarm tasks belong to their service; the swarm would only put them back.
            if entry['id'] in chosen or SWARM_TASK_LABEL in entry['labels']:
                continue
            actions.append({'action': 'disconnect', 'container': entry['name'], 'id': entry['id'],
                            'before': entry['settings'], 'after': None})
    return actions


def refuse_unsettable_mac(actions, declared):
    """Docker ignores the MAC address of a network connect (moby/moby#48192: seen on 28.5, where the
    endpoint gets a random one), so a (re)connect that would have to set it fails before any change
    instead of reporting a change that never happens (and repeating it on every run)."""
    if 'mac_address' not in declared:
        return
    for action in actions:
        # A reconnect (for any change) would lose the MAC address just the same.
        if action['action'] in ('connect', 'reconnect'):
            raise FabricError('mac_address: container %s would need (re)connecting with MAC address %s, but Docker '
                              'ignores a MAC address given when connecting a container (moby/moby#48192). Give it '
                              'when the container is created, or leave mac_address out.'
                              % (action['container'], declared['mac_address']))


def _shown(settings, declared):
    shown = {key: settings.get(key) for key in SETTING_KEYS}
    for key in _SHOWN_WHEN_DECLARED:
        # Docker fills in a MAC address for every running endpoint (and a gateway priority, 0, for
        # every endpoint from API 1.48); they are settings only when declared.
        if key not in declared:
            shown.pop(key)
    return shown


def describe(network_name, attached, actions, declared):
    """The diff: every container of this host on the network with its settings, before and after."""
    before = dict((entry['name'], _shown(entry['settings'], declared)) for entry in attached.values())
    after = dict(before)
    for action in actions:
        if action['after'] is None:
            after.pop(action['container'], None)
        else:
            after[action['container']] = _shown(action['after'], declared)
    return {'before': {'network': network_name, 'containers': dict(sorted(before.items()))},
            'after': {'network': network_name, 'containers': dict(sorted(after.items()))}}


# --- apply -----------------------------------------------------------------------------------

def apply(writer, network_ref, actions, network_name=None):
    """Every write, through the task's writer (which sends nothing in check mode). Messages name the network.

    A reconnect that fails puts the container back with its previous settings;
    ``writer`` keeps the list of what was done for a failure half-way.
    """
    client = writer.client
    network_name = network_name or network_ref
    what = 'Network %s' % network_name

    def step(verb, action, method, *args):
        return writer.write('%s container %s on network %s' % (verb, action['container'], network_name),
                            method, client, network_ref, action['id'], *args)

    for action in actions:
        if action['action'] == 'connect':
            step('Connecting', action, connect, action['after'], what)
        elif action['action'] == 'disconnect':
            step('Disconnecting', action, disconnect, what)
        else:
            step('Disconnecting (to reconnect)', action, disconnect, what)
            try:
                step('Reconnecting', action, connect, action['after'], what)
            except FabricError as exc:
                try:
                    step('Putting back', action, connect, action['before'], what)
                except FabricError:
                    raise FabricError('%s. Container %s is now detached from network %s; its previous settings '
                                      'could not be restored either.' % (exc.msg, action['container'], network_name),
                                      previous_settings=action['before'])
                raise FabricError('%s. Container %s was put back on network %s with its previous settings.'
                                  % (exc.msg, action['container'], network_name))


def run(client, params, check_mode):
    """network_attachment from parameters to result."""
    request = normalise_request(params)
    declared = request['declared']
    if 'mac_address' in declared:
        client.require('endpoint.mac_address', who=MODULE)
    if declared.get('driver_opts'):
        client.require('endpoint.driver_opts', who=MODULE)
    if 'gw_priority' in declared:
        client.require('endpoint.gw_priority', who=MODULE)
    network = find_network(client, request['network'])
    check_network(network, declared)
    summaries = client.call('Listing containers', client.api.containers, all=True)
    selected, missing = select(summaries, request)
    if missing and request['missing'] == 'fail':
        raise FabricError('Nothing on the Docker host %s matches %s. Check the selection, or set missing: ignore.'
                          % (client.docker_host, '; '.join(missing)), missing=missing)
    attached = read_attached(client, network, summaries)
    check_static_addresses(network, declared, selected, attached, summaries)
    actions = plan(request, selected, attached)
    refuse_unsettable_mac(actions, declared)
    diff = describe(network['Name'], attached, actions, declared)
    # A network this worker does not know yet is joined by the name or id the user gave.
    network_ref = network['Id'] or request['network']
    writer = Writer(client, check_mode)
    with writer.reporting():
        apply(writer, network_ref, actions, network['Name'])
    network_id = network['Id']
    if network_id is None and actions and not check_mode:
        try:
            network_id = client.api.inspect_network(network_ref)['Id']
        except APIError:
            pass
    after = diff['after']['containers']
    return {
        'changed': bool(actions),
        'network': {'name': network['Name'], 'id': network_id},
        'containers': [{'name': container_name(s), 'id': s['Id'], 'attached': container_name(s) in after,
                        'settings': after.get(container_name(s))} for s in selected],
        'missing': missing,
        'actions': [{'action': a['action'], 'container': a['container'], 'changes': a.get('changes', [])}
                    for a in actions],
        'diff': diff,
    }
