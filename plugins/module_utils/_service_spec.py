# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: swarm_service's spec, from the user's values to what is compared.

Pure functions, no daemon: ``partial_spec`` turns the options the user gave
into *sets* (spec path, value), so options not given keep the value the
service has (a partial update, unlike community.docker #648); ``merge``
applies them onto the current spec; ``normalise`` fills in Docker's defaults
and sorts the lists whose order Docker ignores, so two specs are equal exactly
when no update is needed; ``differences`` and ``options_of`` name what
changed; ``display`` shows network ids as names.
"""

from __future__ import annotations

import copy
import re
import shlex

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._values import SECOND, parse_duration

MODES = {
    'replicated': 'Replicated',
    'global': 'Global',
    'replicated-job': 'ReplicatedJob',
    'global-job': 'GlobalJob',
}
MODE_NAMES = dict((v, k) for k, v in MODES.items())
JOB_MODES = ('ReplicatedJob', 'GlobalJob')

# Docker's defaults for a section the spec does not have at all.
UPDATE_DEFAULTS = {'Parallelism': 1, 'Delay': 0, 'FailureAction': 'pause', 'Monitor': 5 * SECOND,
                   'MaxFailureRatio': 0, 'Order': 'stop-first'}
RESTART_DEFAULTS = {'Condition': 'any', 'Delay': 5 * SECOND, 'MaxAttempts': 0, 'Window': 0}

# Spec path prefix -> the option that sets it, for the ``changes`` list.
OPTION_OF_PATH = [
    ('Name', 'name'),
    ('Labels', 'labels'),
    ('Mode.Replicated.Replicas', 'replicas'),
    ('Mode.ReplicatedJob.TotalCompletions', 'replicas'),
    ('Mode.ReplicatedJob.MaxConcurrent', 'replicas'),
    ('Mode', 'mode'),
    ('TaskTemplate.ContainerSpec.Image', 'image'),
    ('TaskTemplate.ContainerSpec.Command', 'command'),
    ('TaskTemplate.ContainerSpec.Args', 'args'),
    ('TaskTemplate.ContainerSpec.Env', 'env'),
    ('TaskTemplate.ContainerSpec.Labels', 'container_labels'),
    ('TaskTemplate.ContainerSpec.Hostname', 'hostname'),
    ('TaskTemplate.ContainerSpec.User', 'user'),
    ('TaskTemplate.ContainerSpec.Dir', 'workdir'),
    ('TaskTemplate.ContainerSpec.Init', 'init'),
    ('TaskTemplate.ContainerSpec.StopSignal', 'stop_signal'),
    ('TaskTemplate.ContainerSpec.StopGracePeriod', 'stop_grace_period'),
    ('TaskTemplate.ContainerSpec.Healthcheck', 'healthcheck'),
    ('TaskTemplate.ContainerSpec.Mounts', 'mounts'),
    ('TaskTemplate.ContainerSpec.Secrets', 'secrets'),
    ('TaskTemplate.ContainerSpec.Configs', 'configs'),
    ('TaskTemplate.ContainerSpec.DNSConfig.Nameservers', 'dns'),
    ('TaskTemplate.ContainerSpec.DNSConfig.Search', 'dns_search'),
    ('TaskTemplate.ContainerSpec.DNSConfig.Options', 'dns_options'),
    ('TaskTemplate.Networks', 'networks'),
    ('TaskTemplate.Placement.Constraints', 'constraints'),
    ('TaskTemplate.Placement.Preferences', 'preferences'),
    ('TaskTemplate.Placement.MaxReplicas', 'max_replicas_per_node'),
    ('TaskTemplate.Resources', 'resources'),
    ('TaskTemplate.RestartPolicy', 'restart_policy'),
    ('UpdateConfig', 'update_config'),
    ('RollbackConfig', 'rollback_config'),
    ('EndpointSpec.Mode', 'endpoint_mode'),
    ('EndpointSpec.Ports', 'ports'),
]


# --- parsing the user's values ------------------------------------------------

_BYTE_UNITS = {'': 1, 'b': 1, 'k': 1024, 'kb': 1024, 'kib': 1024, 'm': 1024 ** 2, 'mb': 1024 ** 2,
               'mib': 1024 ** 2, 'g': 1024 ** 3, 'gb': 1024 ** 3, 'gib': 1024 ** 3, 't': 1024 ** 4,
               'tb': 1024 ** 4, 'tib': 1024 ** 4}


def parse_bytes(value, field):
    """'512M', '1g', '1.5GiB', 1048576 -> bytes (binary units, like Docker's --memory)."""
    if isinstance(value, bool):
        raise FabricError('%s: %r is not a size; write it like 512M or 1G.' % (field, value))
    if isinstance(value, int):
        return value
    match = re.fullmatch(r'\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*', str(value))
    if not match or match.group(2).lower() not in _BYTE_UNITS:
        raise FabricError('%s: %r is not a size; write it like 512M or 1G.' % (field, value))
    return int(float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()])


def image_key(reference):
    """An image reference in a form where Docker's spellings compare equal (no registry look-up).

    'busybox' == 'docker.io/library/busybox:latest'; a digest pinned by the CLI
    (name:tag@sha256:...) is kept, and ``same_image`` decides whether it matters.
    """
    name, dummy, digest = (reference or '').partition('@')
    last = name.rsplit('/', 1)[-1]
    if ':' not in last and not digest:
        name += ':latest'
    for prefix in ('docker.io/library/', 'index.docker.io/library/', 'docker.io/', 'index.docker.io/'):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if '/' not in name.split(':')[0]:
        name = 'library/' + name
    return name, digest


def same_image(wanted, current):
    """Whether the running image is the one asked for; a digest counts only when the user gave one."""
    w_name, w_digest = image_key(wanted)
    c_name, c_digest = image_key(current)
    if w_digest:
        return w_digest == c_digest and _repository(w_name) == _repository(c_name)
    return w_name == c_name


def _repository(name):
    """'library/busybox:1.36' -> 'library/busybox' (a registry's port stays)."""
    head, dummy, last = name.rpartition('/')
    return (head + '/' if head else '') + last.split(':')[0]


def split_command(value, field):
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise FabricError('%s: cannot split %r into words (%s); give a list instead.' % (field, value, exc))
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    raise FabricError('%s: give a string or a list of strings.' % field)


def env_list(value):
    """env as a dict or a list of KEY=VALUE -> Docker's list of KEY=VALUE."""
    if isinstance(value, dict):
        out = []
        for key, val in value.items():
            if isinstance(val, bool):
                raise FabricError('env %s: %r is a boolean; quote it (\'%s\') so the container sees the '
                                  'text you mean.' % (key, val, str(val).lower()))
            if isinstance(val, (dict, list, tuple)):
                raise FabricError('env %s: a %s is not a value (the container would see its Python text); give a '
                                  'string, or quote the JSON you mean.' % (key, type(val).__name__))
            out.append('%s=%s' % (key, '' if val is None else val))
        return out
    if isinstance(value, (list, tuple)):
        for item in value:
            if not isinstance(item, str) or '=' not in item:
                raise FabricError('env: %r is not KEY=VALUE; give env as a dict or a list of KEY=VALUE.' % (item,))
        return list(value)
    raise FabricError('env: give a dict or a list of KEY=VALUE.')


# --- normalisation and comparison ---------------------------------------------

def drop_empty(value, keep=('Replicas', 'TotalCompletions')):
    """Remove keys whose value is Docker's zero value (None, '', 0, False, {}, [])."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = drop_empty(item, keep)
            if key in keep and item is not None:
                out[key] = item
            elif item not in (None, '', 0, False, {}, []):
                out[key] = item
        return out
    if isinstance(value, list):
        return [drop_empty(item, keep) for item in value]
    return value


def _sorted(items, key):
    return sorted(items or [], key=key)


def _norm_section(section, defaults, absent_defaults):
    """A section present in the spec gets Go zero values for missing keys; an absent one Docker's defaults."""
    if section is None:
        return dict(absent_defaults)
    out = dict(defaults)
    out.update(dict((k, v) for k, v in section.items() if v is not None))
    return out


def normalise(spec):
    """The comparable form of a ServiceSpec: Docker's defaults filled in, order-free lists sorted."""
    spec = copy.deepcopy(spec or {})
    if not spec:
        return {}
    spec.setdefault('Labels', {})
    lift_networks(spec)
    spec.pop('Networks', None)
    template = spec.setdefault('TaskTemplate', {})
    container = template.setdefault('ContainerSpec', {})
    if container.get('Isolation') == 'default':
        del container['Isolation']
    if container.get('Image'):
        name, digest = image_key(container['Image'])
        container['Image'] = name + ('@' + digest if digest else '')
    container['Env'] = sorted(container.get('Env') or [])
    container['Mounts'] = _sorted(
        [dict({'ReadOnly': False, 'Type': 'volume'}, **m) for m in container.get('Mounts') or []],
        key=lambda m: m.get('Target', ''))
    for kind, name_key in (('Secrets', 'SecretName'), ('Configs', 'ConfigName')):
        refs = []
        for ref in container.get(kind) or []:
            ref = copy.deepcopy(ref)
            if 'File' in ref:
                ref['File'] = dict({'UID': '0', 'GID': '0', 'Mode': 0o444}, **(ref['File'] or {}))
            refs.append(ref)
        container[kind] = _sorted(refs, key=lambda r, n=name_key: (r.get(n, ''), (r.get('File') or {}).get('Name', '')))
    dns = container.get('DNSConfig') or {}
    if dns.get('Options'):
        dns['Options'] = sorted(dns['Options'])
    health = container.get('Healthcheck')
    if health and health.get('Test') == ['NONE']:
        container['Healthcheck'] = {'Test': ['NONE']}
    if template.get('Runtime') == 'container':
        del template['Runtime']
    placement = template.get('Placement') or {}
    if placement.get('Constraints'):
        placement['Constraints'] = sorted(c.replace(' ', '') for c in placement['Constraints'])
    networks = []
    for net in network_targets(spec):
        net = copy.deepcopy(net)
        net['Aliases'] = sorted(net.get('Aliases') or [])
        networks.append(net)
    template['Networks'] = _sorted(networks, key=lambda n: n.get('Target', ''))
    mode = spec.get('Mode') or {'Replicated': {}}
    if 'Replicated' in mode:
        replicas = (mode['Replicated'] or {}).get('Replicas')
        mode = {'Replicated': {'Replicas': 1 if replicas is None else replicas}}
    spec['Mode'] = mode
    is_job = any(k in mode for k in JOB_MODES)
    restart = dict(RESTART_DEFAULTS, Condition='on-failure' if is_job else 'any')
    template['RestartPolicy'] = _norm_section(template.get('RestartPolicy'), restart, restart)
    if not template['RestartPolicy'].get('Condition'):
        template['RestartPolicy']['Condition'] = restart['Condition']
    zero = {'FailureAction': 'pause', 'Order': 'stop-first'}
    for section in ('UpdateConfig', 'RollbackConfig'):
        spec[section] = _norm_section(spec.get(section), zero, UPDATE_DEFAULTS)
        for key, default in zero.items():
            spec[section][key] = spec[section].get(key) or default
        spec[section]['MaxFailureRatio'] = float(spec[section].get('MaxFailureRatio') or 0)
    endpoint = spec.get('EndpointSpec') or {}
    endpoint['Mode'] = endpoint.get('Mode') or 'vip'
    endpoint['Ports'] = _sorted(
        [dict({'Protocol': 'tcp', 'PublishMode': 'ingress'}, **dict((k, v) for k, v in p.items() if v))
         for p in endpoint.get('Ports') or []],
        key=lambda p: (p.get('TargetPort', 0), p['Protocol'], p.get('PublishedPort', 0), p['PublishMode']))
    spec['EndpointSpec'] = endpoint
    return drop_empty(spec)


def flatten(value, prefix=''):
    """{'a': {'b': 1}} -> {'a.b': 1}; lists stay whole (they are compared as one value)."""
    if isinstance(value, dict) and value:
        out = {}
        for key, item in value.items():
            out.update(flatten(item, '%s.%s' % (prefix, key) if prefix else key))
        return out
    return {prefix: value} if prefix else {}


def differences(before, after):
    """Spec paths whose normalised values differ, sorted."""
    flat_before, flat_after = flatten(before), flatten(after)
    return sorted(p for p in set(flat_before) | set(flat_after) if flat_before.get(p) != flat_after.get(p))


def options_of(paths):
    """The user's option names for a list of changed spec paths."""
    names = []
    for path in paths:
        name = next((opt for prefix, opt in OPTION_OF_PATH if path == prefix or path.startswith(prefix + '.')), path)
        if name not in names:
            names.append(name)
    return names


# --- the desired state --------------------------------------------------------

def _set(sets, path, value):
    sets.append((path, value))


def partial_spec(params, resolved, current=None):
    """The options given -> a list of (spec path, value) sets, in Docker's terms.

    ``resolved`` maps names to ids: {'networks': {name: id}, 'secrets': {...}, 'configs': {...}}.
    ``current`` (the service's spec, or None) decides the defaults of sections
    the user touches for the first time.
    """
    current = current or {}
    p = params
    sets = []
    container = 'TaskTemplate.ContainerSpec.'
    cur_container = (current.get('TaskTemplate') or {}).get('ContainerSpec') or {}
    if p.get('image') is not None and not (cur_container.get('Image') and same_image(p['image'], cur_container['Image'])):
        _set(sets, container + 'Image', p['image'])
    if p.get('command') is not None:
        _set(sets, container + 'Command', split_command(p['command'], 'command'))
    if p.get('args') is not None:
        _set(sets, container + 'Args', split_command(p['args'], 'args'))
    if p.get('env') is not None:
        _set(sets, container + 'Env', env_list(p['env']))
    if p.get('labels') is not None:
        _set(sets, 'Labels', dict((k, str(v)) for k, v in p['labels'].items()))
    if p.get('container_labels') is not None:
        _set(sets, container + 'Labels', dict((k, str(v)) for k, v in p['container_labels'].items()))
    for option, key in (('hostname', 'Hostname'), ('user', 'User'), ('workdir', 'Dir'), ('init', 'Init'),
                        ('stop_signal', 'StopSignal')):
        if p.get(option) is not None:
            _set(sets, container + key, p[option])
    if p.get('stop_grace_period') is not None:
        _set(sets, container + 'StopGracePeriod', parse_duration(p['stop_grace_period'], 'stop_grace_period'))
    if p.get('healthcheck') is not None:
        _set(sets, container + 'Healthcheck', healthcheck_spec(p['healthcheck']))
    if p.get('mounts') is not None:
        _set(sets, container + 'Mounts', [mount_spec(m) for m in p['mounts']])
    for kind, id_key, name_key in (('secrets', 'SecretID', 'SecretName'), ('configs', 'ConfigID', 'ConfigName')):
        if p.get(kind) is not None:
            refs = []
            for ref in p[kind]:
                file_spec = {'Name': ref.get('target') or ref['name'], 'UID': str(ref.get('uid') or '0'),
                             'GID': str(ref.get('gid') or '0'), 'Mode': 0o444 if ref.get('mode') is None else ref['mode']}
                refs.append({id_key: resolved[kind][ref['name']], name_key: ref['name'], 'File': file_spec})
            _set(sets, container + kind.capitalize(), refs)
    for option, key in (('dns', 'Nameservers'), ('dns_search', 'Search'), ('dns_options', 'Options')):
        if p.get(option) is not None:
            _set(sets, container + 'DNSConfig.' + key, list(p[option]))
    if p.get('networks') is not None:
        nets = []
        for net in p['networks']:
            entry = {'Target': resolved['networks'][net['name']]}
            if net.get('aliases'):
                entry['Aliases'] = list(net['aliases'])
            if net.get('driver_opts'):
                entry['DriverOpts'] = dict((k, str(v)) for k, v in net['driver_opts'].items())
            nets.append(entry)
        _set(sets, 'TaskTemplate.Networks', nets)
    if p.get('constraints') is not None:
        _set(sets, 'TaskTemplate.Placement.Constraints', list(p['constraints']))
    if p.get('preferences') is not None:
        _set(sets, 'TaskTemplate.Placement.Preferences',
             [{'Spread': {'SpreadDescriptor': d}} for d in p['preferences']])
    if p.get('max_replicas_per_node') is not None:
        _set(sets, 'TaskTemplate.Placement.MaxReplicas', p['max_replicas_per_node'])
    if p.get('resources') is not None:
        for side, fields in (('limits', ('cpus', 'memory', 'pids')), ('reservations', ('cpus', 'memory'))):
            given = (p['resources'] or {}).get(side) or {}
            base = 'TaskTemplate.Resources.%s.' % side.capitalize()
            if given.get('cpus') is not None:
                _set(sets, base + 'NanoCPUs', int(round(float(given['cpus']) * SECOND)))
            if given.get('memory') is not None:
                _set(sets, base + 'MemoryBytes', parse_bytes(given['memory'], 'resources.%s.memory' % side))
            if 'pids' in fields and given.get('pids') is not None:
                _set(sets, base + 'Pids', given['pids'])
    mode_key = mode_of(current) if current else MODES[p.get('mode') or 'replicated']
    if p.get('restart_policy') is not None:
        rp = p['restart_policy']
        cur = (current.get('TaskTemplate') or {}).get('RestartPolicy')
        if cur is None:   # first time: start from Docker's defaults, as the CLI does
            defaults = dict(RESTART_DEFAULTS, Condition='on-failure' if mode_key in JOB_MODES else 'any')
            _set(sets, 'TaskTemplate.RestartPolicy', defaults)
        for option, key, conv in (('condition', 'Condition', None), ('delay', 'Delay', parse_duration),
                                  ('max_attempts', 'MaxAttempts', None), ('window', 'Window', parse_duration)):
            if rp.get(option) is not None:
                value = conv(rp[option], 'restart_policy.' + option) if conv else rp[option]
                _set(sets, 'TaskTemplate.RestartPolicy.' + key, value)
    elif not current and mode_key in JOB_MODES:
        _set(sets, 'TaskTemplate.RestartPolicy', dict(RESTART_DEFAULTS, Condition='on-failure'))
    for option, section in (('update_config', 'UpdateConfig'), ('rollback_config', 'RollbackConfig')):
        if p.get(option) is None:
            continue
        if current.get(section) is None:
            _set(sets, section, dict(UPDATE_DEFAULTS))
        for sub, key, conv in (('parallelism', 'Parallelism', None), ('delay', 'Delay', parse_duration),
                               ('failure_action', 'FailureAction', None), ('monitor', 'Monitor', parse_duration),
                               ('max_failure_ratio', 'MaxFailureRatio', float), ('order', 'Order', None)):
            value = p[option].get(sub)
            if value is not None:
                if conv is parse_duration:
                    value = conv(value, '%s.%s' % (option, sub))
                elif conv:
                    value = conv(value)
                _set(sets, '%s.%s' % (section, key), value)
    if p.get('endpoint_mode') is not None:
        _set(sets, 'EndpointSpec.Mode', p['endpoint_mode'])
    if p.get('ports') is not None:
        ports = []
        for port in p['ports']:
            entry = {'Protocol': port.get('protocol') or 'tcp', 'TargetPort': port['target'],
                     'PublishMode': port.get('mode') or 'ingress'}
            if port.get('published'):
                entry['PublishedPort'] = port['published']
            ports.append(entry)
        _set(sets, 'EndpointSpec.Ports', ports)
    # The mode: a new service gets the one asked for (replicated by default).
    given_mode = MODES[p['mode']] if p.get('mode') else None
    if not current:
        mode_key = given_mode or 'Replicated'
        body = {}
        if mode_key == 'Replicated':
            body = {'Replicas': 1 if p.get('replicas') is None else p['replicas']}
        elif mode_key == 'ReplicatedJob':
            total = 1 if p.get('replicas') is None else p['replicas']
            body = {'TotalCompletions': total, 'MaxConcurrent': total}
        _set(sets, 'Mode', {mode_key: body})
    elif p.get('replicas') is not None:
        if mode_key == 'Replicated':
            _set(sets, 'Mode.Replicated.Replicas', p['replicas'])
        elif mode_key == 'ReplicatedJob':
            _set(sets, 'Mode.ReplicatedJob.TotalCompletions', p['replicas'])
            _set(sets, 'Mode.ReplicatedJob.MaxConcurrent', p['replicas'])
    return sets


def healthcheck_spec(health):
    test = health.get('test')
    if isinstance(test, str):
        test = ['NONE'] if test.upper() == 'NONE' else ['CMD-SHELL', test]
    spec = {}
    if test is not None:
        spec['Test'] = [str(t) for t in test]
    for option, key in (('interval', 'Interval'), ('timeout', 'Timeout'), ('start_period', 'StartPeriod')):
        if health.get(option) is not None:
            spec[key] = parse_duration(health[option], 'healthcheck.' + option)
    if health.get('retries') is not None:
        spec['Retries'] = health['retries']
    return spec


def mount_spec(mount):
    spec = {'Type': mount.get('type') or 'volume', 'Target': mount['target']}
    if mount.get('source'):
        spec['Source'] = mount['source']
    if mount.get('readonly'):
        spec['ReadOnly'] = True
    return spec


def mode_of(spec):
    mode = (spec or {}).get('Mode') or {'Replicated': {}}
    return next(iter(mode), 'Replicated')


def merge(current, sets, name):
    """The current spec (deep-copied) with the sets applied; a new spec when there is no current one."""
    spec = copy.deepcopy(current) if current else {'Name': name}
    lift_networks(spec)
    for path, value in sets:
        node = spec
        keys = path.split('.')
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[keys[-1]] = copy.deepcopy(value)
    return spec


def network_targets(spec):
    """The network attachments of a spec: ``TaskTemplate.Networks``, or ``Networks`` where API < 1.25 put them.

    The one place the service engine reads them (``_policy`` reads the same two places).
    """
    return (spec.get('TaskTemplate') or {}).get('Networks') or spec.get('Networks') or []


def lift_networks(spec):
    """Move the pre-1.25 ``Networks`` into ``TaskTemplate`` (in place), where Docker keeps them now."""
    if spec.get('Networks') and not (spec.get('TaskTemplate') or {}).get('Networks'):
        spec.setdefault('TaskTemplate', {})['Networks'] = spec.pop('Networks')


def display(spec, network_names):
    """The normalised spec with network ids shown as names, for diffs and results."""
    out = copy.deepcopy(spec)
    for net in network_targets(out):
        net['Target'] = network_names.get(net.get('Target'), net.get('Target'))
    return out
