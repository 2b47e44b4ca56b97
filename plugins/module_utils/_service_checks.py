# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: swarm_service's checks that need no write, each a clear one-line refusal.

Pure functions: the options alone (``validate_params``), the merged spec
(``validate_spec``) and published ports against the other services
(``port_conflicts``). Every refusal happens before the first write.
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._service_spec import env_list


NETWORK_ENTRY_KEYS = ('name', 'aliases', 'driver_opts')


def network_entries(value, who):
    """``networks`` as given (names, or dicts of name/aliases/driver_opts) -> a list of dicts."""
    if value is None:
        return None
    entries = []
    for index, entry in enumerate(value):
        if isinstance(entry, str):
            entry = {'name': entry}
        if not isinstance(entry, dict):
            raise FabricError('%s: networks[%d] must be a network name or a dict with name, aliases and '
                              'driver_opts, not %r.' % (who, index, entry))
        unknown = sorted(set(entry) - set(NETWORK_ENTRY_KEYS))
        if unknown:
            raise FabricError('%s: networks[%d] has unknown keys %s; it takes %s.'
                              % (who, index, ', '.join(unknown), ', '.join(NETWORK_ENTRY_KEYS)))
        aliases = entry.get('aliases')
        if aliases is not None and (not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases)):
            raise FabricError('%s: networks[%d].aliases must be a list of names.' % (who, index))
        if entry.get('driver_opts') is not None and not isinstance(entry['driver_opts'], dict):
            raise FabricError('%s: networks[%d].driver_opts must be a dict.' % (who, index))
        entries.append({'name': entry.get('name'), 'aliases': aliases, 'driver_opts': entry.get('driver_opts')})
    return entries


def validate_params(params):
    """Checks that need no daemon; raise FabricError naming the option."""
    name = params.get('name')
    mode = params.get('mode')
    if not isinstance(name, str) or not name.strip():
        raise FabricError('swarm_service: name is empty; give the service a name (Docker would make up a new '
                          'random name on every run).')
    who = 'swarm_service %s' % name
    if name != name.strip():
        raise FabricError('%s: the name has leading or trailing spaces; remove them.' % who)
    if params.get('wait_timeout') is not None and params['wait_timeout'] <= 0:
        raise FabricError('%s: wait_timeout must be a number of seconds above 0, not %s; to not wait, set wait: '
                          'false.' % (who, params['wait_timeout']))
    if params['state'] == 'absent':
        return
    if params.get('env') is not None:
        try:
            env_list(params['env'])
        except FabricError as exc:
            raise FabricError('%s: %s' % (who, exc.msg))
    # Names or dicts are accepted; everything after this sees dicts only.
    params['networks'] = network_entries(params.get('networks'), who)
    if params.get('rollback_on_failure') and not params.get('wait', True):
        raise FabricError('%s: rollback_on_failure needs wait: true (the failure is found by waiting).' % who)
    if mode in ('global', 'global-job') and params.get('replicas') is not None:
        raise FabricError('%s: replicas does not go with mode %s (one task per node); leave replicas out '
                          'or use mode replicated.' % (who, mode))
    if mode in ('global', 'global-job') and params.get('max_replicas_per_node') is not None:
        raise FabricError('%s: max_replicas_per_node does not go with mode %s; leave it out.' % (who, mode))
    if params.get('replicas') is not None and params['replicas'] < 0:
        raise FabricError('%s: replicas must be 0 or more, not %s.' % (who, params['replicas']))
    for net in params.get('networks') or []:
        if not net.get('name'):
            raise FabricError('%s: every entry of networks needs a name.' % who)
    names = [n['name'] for n in params.get('networks') or []]
    if len(set(names)) != len(names):
        raise FabricError('%s: networks lists a network more than once; give each once.' % who)
    seen = set()
    for port in params.get('ports') or []:
        if not 0 < port['target'] < 65536 or (port.get('published') and not 0 < port['published'] < 65536):
            raise FabricError('%s: ports: %s is not a port number (1-65535).' % (who, port))
        key = (port.get('published'), port.get('protocol') or 'tcp')
        if port.get('published') and key in seen:
            raise FabricError('%s: ports publishes %s/%s twice.' % (who, key[0], key[1]))
        seen.add(key)
    for kind in ('secrets', 'configs'):
        for ref in params.get(kind) or []:
            if not ref.get('name'):
                raise FabricError('%s: every entry of %s needs a name.' % (who, kind))


def validate_spec(spec, who):
    """Checks of the merged spec (user options plus what the service already has)."""
    endpoint = spec.get('EndpointSpec') or {}
    ingress = [p for p in endpoint.get('Ports') or [] if (p.get('PublishMode') or 'ingress') == 'ingress']
    if endpoint.get('Mode') == 'dnsrr' and ingress:
        raise FabricError('%s: endpoint_mode dnsrr cannot publish ports through the ingress routing mesh '
                          '(port %s); set mode: host on those ports or use endpoint_mode vip.'
                          % (who, ingress[0].get('PublishedPort') or ingress[0].get('TargetPort')))
    if not (spec.get('TaskTemplate') or {}).get('ContainerSpec', {}).get('Image'):
        raise FabricError('%s: image is required to create the service.' % who)


def port_conflicts(spec, services, own_id):
    """Published ports of ``spec`` that another service already holds, as 'port/proto (service)'."""
    wanted = []
    for port in (spec.get('EndpointSpec') or {}).get('Ports') or []:
        if port.get('PublishedPort'):
            wanted.append((port['PublishedPort'], port.get('Protocol') or 'tcp', port.get('PublishMode') or 'ingress'))
    taken = []
    for other in services:
        if other.get('ID') == own_id:
            continue
        ports = list((other.get('Endpoint') or {}).get('Ports') or [])
        ports += ((other.get('Spec') or {}).get('EndpointSpec') or {}).get('Ports') or []
        for port in ports:
            key = (port.get('PublishedPort'), port.get('Protocol') or 'tcp')
            other_mode = port.get('PublishMode') or 'ingress'
            for number, proto, mode in wanted:
                # Two host-mode ports can coexist (on different nodes); ingress holds the port everywhere.
                if key == (number, proto) and 'ingress' in (mode, other_mode):
                    text = '%s/%s (service %s)' % (number, proto, other['Spec']['Name'])
                    if text not in taken:
                        taken.append(text)
    return taken
