# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine of swarm_service: a Docker ServiceSpec built from the options, merged, compared, applied.

The cycle:

1. ``partial_spec`` turns the options the user gave into a list of *sets*
   (spec path, value). Options not given produce no set, so they keep the
   value the service has (a partial update, unlike community.docker #648).
2. ``merge`` applies those sets onto the current spec (or an empty one).
3. ``normalise`` fills in Docker's own defaults and sorts the lists whose
   order Docker ignores, for both the current and the merged spec; they are
   equal exactly when no update is needed.
4. The plan (create / update / remove) is applied through ``ServiceEngine._write``,
   the one place that knows about check mode. The spec sent is the merged
   spec, through the raw API, so what is compared is what is sent.
5. With ``wait``, ``convergence`` (a pure function of the service and its
   tasks) is polled until every desired task runs the current spec (jobs:
   completed), the update fails, or the time is up; ``rollback_on_failure``
   then asks Docker to roll back to the previous spec.
"""

from __future__ import annotations

import copy
import re
import shlex
import time

from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError, FabricError

SECOND = 10 ** 9

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
    ('Labels', 'labels'),
    ('Mode', 'mode/replicas'),
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

_DURATION_UNITS = {'ns': 1, 'us': 10 ** 3, 'µs': 10 ** 3, 'ms': 10 ** 6, 's': SECOND, 'm': 60 * SECOND,
                   'h': 3600 * SECOND}
_DURATION_PART = re.compile(r'(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)')


def parse_duration(value, field):
    """'1m30s', '500ms', '10' (seconds) or 10 -> nanoseconds."""
    if isinstance(value, bool):
        raise FabricError('%s: %r is not a duration; write it like 10s, 1m30s or 500ms.' % (field, value))
    if isinstance(value, (int, float)):
        return int(round(value * SECOND))
    text = str(value).strip()
    if re.fullmatch(r'\d+(\.\d+)?', text):
        return int(round(float(text) * SECOND))
    parts = _DURATION_PART.findall(text)
    if not text or ''.join(n + u for n, u in parts) != text:
        raise FabricError('%s: %r is not a duration; write it like 10s, 1m30s or 500ms.' % (field, value))
    return int(round(sum(float(n) * _DURATION_UNITS[u] for n, u in parts)))


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
            out.append('%s=%s' % (key, '' if val is None else val))
        return out
    if isinstance(value, (list, tuple)):
        for item in value:
            if not isinstance(item, str) or '=' not in item:
                raise FabricError('env: %r is not KEY=VALUE; give env as a dict or a list of KEY=VALUE.' % (item,))
        return list(value)
    raise FabricError('env: give a dict or a list of KEY=VALUE.')


# --- normalisation and comparison ---------------------------------------------

def _drop_empty(value, keep=('Replicas', 'TotalCompletions')):
    """Remove keys whose value is Docker's zero value (None, '', 0, False, {}, [])."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = _drop_empty(item, keep)
            if key in keep and item is not None:
                out[key] = item
            elif item not in (None, '', 0, False, {}, []):
                out[key] = item
        return out
    if isinstance(value, list):
        return [_drop_empty(item, keep) for item in value]
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
    template = spec.setdefault('TaskTemplate', {})
    if spec.get('Networks') and not template.get('Networks'):
        template['Networks'] = spec.pop('Networks')   # the pre-1.25 place
    spec.pop('Networks', None)
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
    for net in template.get('Networks') or []:
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
    return _drop_empty(spec)


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
    if spec.get('Networks') and not (spec.get('TaskTemplate') or {}).get('Networks'):
        spec.setdefault('TaskTemplate', {})['Networks'] = spec.pop('Networks')
    for path, value in sets:
        node = spec
        keys = path.split('.')
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[keys[-1]] = copy.deepcopy(value)
    return spec


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
    name = params['name']
    mode = params.get('mode')
    who = 'swarm_service %s' % name
    if params['state'] == 'absent':
        return
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


# --- convergence ---------------------------------------------------------------

_TEMPLATE_IGNORED = ('Runtime',)


def task_is_current(task, template):
    """Whether a task was made from this TaskTemplate (the task's Spec is a copy of it)."""
    spec = task.get('Spec') or {}
    for key in set(spec) | set(template):
        if key in _TEMPLATE_IGNORED:
            continue
        if _drop_empty(spec.get(key)) != _drop_empty(template.get(key)):
            return False
    return True


def task_summary(task, node_names):
    status = task.get('Status') or {}
    out = {'id': task.get('ID'), 'node': node_names.get(task.get('NodeID'), task.get('NodeID')),
           'slot': task.get('Slot'), 'state': status.get('State'), 'desired_state': task.get('DesiredState'),
           'message': status.get('Message')}
    if status.get('Err'):
        out['error'] = status['Err']
    exit_code = (status.get('ContainerStatus') or {}).get('ExitCode')
    if exit_code:
        out['exit_code'] = exit_code
    return out


FAILED_STATES = ('failed', 'rejected')


def timestamp(text):
    """Docker's RFC 3339 time with 0-9 fraction digits -> a string that sorts in time order."""
    text = (text or '').rstrip('Z')
    whole, dummy, fraction = text.partition('.')
    return whole + '.' + (fraction + '000000000')[:9]


def convergence(service, tasks, node_count=None, rolling_back=False, since=None):
    """('done' | 'failed' | 'pending', why, failed tasks) for a service and its task listing.

    Converged: every task Docker wants running runs the current spec, and
    there are as many as the mode asks for (replicas; one per node for
    global services when ``node_count`` is known). Jobs: the current spec's
    tasks completed. Failed: Docker paused or rolled back the update, or the
    current spec's tasks failed at least as often as there are slots.
    """
    spec = service.get('Spec') or {}
    template = spec.get('TaskTemplate') or {}
    mode = spec.get('Mode') or {'Replicated': {}}
    kind = next(iter(mode), 'Replicated')
    update = (service.get('UpdateStatus') or {})
    state = update.get('State')
    current = [t for t in tasks if task_is_current(t, template)]
    recent = [t for t in current if since is None or timestamp(t.get('CreatedAt')) > timestamp(since)]
    bad = FAILED_STATES if kind in JOB_MODES else FAILED_STATES + ('complete',)
    failed = [t for t in recent if (t.get('Status') or {}).get('State') in bad]
    if rolling_back:
        if state == 'rollback_started':
            return 'pending', 'rollback in progress', []
        if state == 'rollback_paused':
            return 'failed', 'the rollback paused: %s' % update.get('Message'), failed
    elif state == 'paused':
        return 'failed', update.get('Message') or 'update paused', failed
    elif state in ('rollback_started', 'rollback_paused', 'rollback_completed'):
        # Docker rolled back on its own (update_config.failure_action: rollback).
        return 'failed', update.get('Message') or 'rolled back', failed

    if kind in JOB_MODES:
        done = [t for t in current if (t.get('Status') or {}).get('State') == 'complete']
        want = (mode.get('ReplicatedJob') or {}).get('TotalCompletions', 1) if kind == 'ReplicatedJob' else node_count
        if want is not None and len(done) >= want or want is None and done and len(done) == len(current):
            return 'done', 'completed', []
        if failed and len(failed) >= max(1, want or 1):
            return 'failed', 'job tasks failed', failed
        return 'pending', '%d of %s tasks completed' % (len(done), want if want is not None else '?'), failed

    wanted_running = [t for t in tasks if t.get('DesiredState') == 'running']
    running = [t for t in wanted_running if (t.get('Status') or {}).get('State') == 'running' and t in current]
    want = (mode.get('Replicated') or {}).get('Replicas', 1) if kind == 'Replicated' else node_count
    if failed and len(failed) >= max(1, want or 1):
        return 'failed', 'tasks of the new spec failed', failed
    if state == 'updating':
        return 'pending', 'update in progress', failed
    if len(running) == len(wanted_running) and (want is None and running or len(running) == want):
        return 'done', '%d tasks running' % len(running), []
    return 'pending', '%d of %s tasks running the current spec' % (len(running), want if want is not None else '?'), failed


# --- the engine ------------------------------------------------------------------

def _display(spec, network_names):
    """The normalised spec with network ids shown as names, for diffs and results."""
    out = copy.deepcopy(spec)
    for net in (out.get('TaskTemplate') or {}).get('Networks') or []:
        net['Target'] = network_names.get(net.get('Target'), net.get('Target'))
    return out


class ServiceEngine:
    """One run of swarm_service: plan from the options, apply (or not, in check mode), wait."""

    POLL = 1.0

    def __init__(self, client, params, check_mode=False, sleep=time.sleep, clock=time.monotonic):
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.name = params['name']
        self.who = 'swarm_service %s' % self.name
        self.sleep = sleep
        self.clock = clock
        self.network_names = {}

    # The one place that writes.
    def _write(self, doing, method, *args, **kwargs):
        if self.check_mode:
            return None
        return self.client.call(doing, method, *args, **kwargs)

    def _post(self, path, data, params=None, *fmt):
        api = self.client.api
        return api._result(api._post_json(api._url(path, *fmt), data=data, params=params), True)

    def _find(self, services):
        return next((s for s in services if (s.get('Spec') or {}).get('Name') == self.name
                     or s.get('ID') == self.name), None)

    def gates(self):
        p = self.params
        if p.get('max_replicas_per_node') is not None:
            self.client.require('service.max_replicas_per_node', who=self.who)
        if p.get('init') is not None:
            self.client.require('service.init', who=self.who)
        if p.get('mode') in ('replicated-job', 'global-job'):
            self.client.require('service.job_mode', who=self.who)
        if p.get('rollback_config') is not None:
            self.client.require('service.rollback_config', who=self.who)

    def resolve(self):
        """Names of networks, secrets and configs -> ids, failing on any that is missing or unusable."""
        p = self.params
        resolved = {'networks': {}, 'secrets': {}, 'configs': {}}
        networks = self.client.call('listing networks', self.client.api.networks)
        for net in networks:
            self.network_names[net['Id']] = net['Name']
        for wanted in p.get('networks') or []:
            name = wanted['name']
            match = [n for n in networks if n['Name'] == name] or [n for n in networks if n['Id'].startswith(name)]
            if not match:
                raise FabricError('%s: network %s does not exist on this manager; create it first as a '
                                  'swarm-scoped network (driver overlay).' % (self.who, name), network=name)
            net = match[0]
            if net.get('Scope') != 'swarm':
                raise FabricError('%s: network %s is %s-scoped (driver %s); services join only swarm-scoped '
                                  'networks. Use an overlay network.'
                                  % (self.who, name, net.get('Scope'), net.get('Driver')), network=name)
            if net.get('Ingress'):
                raise FabricError('%s: network %s is the ingress network; services reach it through ports, '
                                  'leave it out of networks.' % (self.who, name), network=name)
            resolved['networks'][name] = net['Id']
        for kind, lister, name_key in (('secrets', 'secrets', 'Name'), ('configs', 'configs', 'Name')):
            if not p.get(kind):
                continue
            items = self.client.call('listing %s' % kind, getattr(self.client.api, lister))
            by_name = dict((i['Spec'][name_key], i['ID']) for i in items)
            for ref in p[kind]:
                if ref['name'] not in by_name:
                    raise FabricError('%s: %s %s does not exist; create it first (docker %s create).'
                                      % (self.who, kind[:-1], ref['name'], kind[:-1]), **{kind[:-1]: ref['name']})
                resolved[kind][ref['name']] = by_name[ref['name']]
        return resolved

    def run(self):
        p = self.params
        validate_params(p)
        services = self.client.call('listing services', self.client.api.services)
        service = self._find(services)
        result = {'changed': False, 'actions': [], 'changes': []}
        if p['state'] == 'absent':
            return self._remove(service, result)
        self.gates()
        resolved = self.resolve()
        current = service['Spec'] if service else None
        if current and p.get('mode') and MODES[p['mode']] != mode_of(current):
            raise FabricError('%s: the service runs in mode %s and Docker cannot change the mode of a service; '
                              'remove it first (state: absent) to recreate it as %s.'
                              % (self.who, MODE_NAMES.get(mode_of(current), mode_of(current)), p['mode']))
        if current and p.get('replicas') is not None and mode_of(current) in ('Global', 'GlobalJob'):
            raise FabricError('%s: replicas does not go with mode %s (one task per node); leave replicas out.'
                              % (self.who, MODE_NAMES[mode_of(current)]))
        sets = partial_spec(p, resolved, current)
        new = merge(current, sets, self.name)
        validate_spec(new, self.who)
        taken = port_conflicts(new, services, service['ID'] if service else None)
        if taken:
            raise FabricError('%s: published port %s already taken; choose another published port or '
                              'remove that service.' % (self.who, ', '.join(taken)), ports_taken=taken)
        before, after = normalise(current), normalise(new)
        paths = differences(before, after)
        result['diff'] = {'before': _display(before, self.network_names), 'after': _display(after, self.network_names)}
        if not service:
            result.update(changed=True, actions=['create'], changes=options_of(paths))
            if self.check_mode:
                result['spec'] = result['diff']['after']
                return result
            created = self._write('creating service %s' % self.name, self._post, '/services/create', new)
            service_id = created['ID']
        elif paths:
            result.update(changed=True, actions=['update'], changes=options_of(paths))
            if self.check_mode:
                result['spec'] = result['diff']['after']
                return result
            service_id = service['ID']
            self._write('updating service %s' % self.name, self._post, '/services/{0}/update', new,
                        {'version': service['Version']['Index']}, service_id)
        else:
            result['spec'] = result['diff']['after']
            result['service'] = service
            # Nothing to change, but the last update is stuck: say so (and roll back when asked).
            if (p.get('wait', True) and not self.check_mode
                    and (service.get('UpdateStatus') or {}).get('State') == 'paused'):
                self._wait(service['ID'], result, previous=service.get('PreviousSpec'))
            return result
        if p.get('wait', True):
            self._wait(service_id, result, previous=current, since=service.get('UpdatedAt') if service else None)
        result['service'] = self.client.call('reading service %s' % self.name, self.client.api.inspect_service, service_id)
        result['spec'] = _display(normalise(result['service']['Spec']), self.network_names)
        return result

    def _remove(self, service, result):
        if not service:
            return result
        for net in self.client.call('listing networks', self.client.api.networks):
            self.network_names[net['Id']] = net['Name']
        result.update(changed=True, actions=['remove'],
                      diff={'before': _display(normalise(service['Spec']), self.network_names), 'after': {}})
        if self.check_mode:
            return result
        self._write('removing service %s' % self.name, self.client.api.remove_service, service['ID'])
        if self.params.get('wait', True):
            deadline = self.clock() + self.params.get('wait_timeout', 120)
            while self.clock() < deadline:
                try:
                    tasks = self.client.api.tasks(filters={'service': service['ID']})
                except APIError:   # the service is gone, and so are its tasks
                    break
                if not [t for t in tasks if (t.get('Status') or {}).get('State') in
                        ('new', 'pending', 'assigned', 'accepted', 'ready', 'preparing', 'starting', 'running')]:
                    break
                self.sleep(self.POLL)
        return result

    def _node_names(self):
        nodes = self.client.call('listing nodes', self.client.api.nodes)
        names = dict((n['ID'], (n.get('Description') or {}).get('Hostname') or n['ID']) for n in nodes)
        ready = [n for n in nodes if (n.get('Status') or {}).get('State') == 'ready'
                 and (n.get('Spec') or {}).get('Availability') == 'active']
        return names, len(ready)

    def _poll(self, service_id, deadline, node_count, since=None, rolling_back=False):
        while True:
            service = self.client.call('reading service %s' % self.name, self.client.api.inspect_service, service_id)
            tasks = self.client.call('listing tasks of %s' % self.name, self.client.api.tasks,
                                     filters={'service': service_id})
            placement = (service['Spec'].get('TaskTemplate') or {}).get('Placement') or {}
            count = None if placement.get('Constraints') else node_count
            outcome, why, failed = convergence(service, tasks, count, rolling_back, since)
            if outcome != 'pending':
                return outcome, why, failed, tasks
            if self.clock() >= deadline:
                return 'timeout', why, failed, tasks
            self.sleep(self.POLL)

    def _wait(self, service_id, result, previous, since=None):
        p = self.params
        timeout = p.get('wait_timeout', 120)
        node_names, node_count = self._node_names()
        outcome, why, failed, tasks = self._poll(service_id, self.clock() + timeout, node_count, since)
        if outcome == 'done':
            result['converged'] = True
            return
        result['converged'] = False
        failed_tasks = [task_summary(t, node_names) for t in failed]
        if outcome == 'timeout':
            pending = [task_summary(t, node_names) for t in tasks if t.get('DesiredState') == 'running'
                       and (t.get('Status') or {}).get('State') != 'running']
            failed_tasks += [t for t in pending if t not in failed_tasks]
            why = 'not converged within wait_timeout=%ss (%s)' % (timeout, why)
        errors = '; '.join('%s slot %s: %s' % (t['node'], t['slot'], t.get('error') or t.get('message') or t['state'])
                           for t in failed_tasks[:5]) or 'no task error reported'
        details = dict(result, failed_tasks=failed_tasks, rolled_back=False)
        service = self.client.call('reading service %s' % self.name, self.client.api.inspect_service, service_id)
        docker_rolled_back = (service.get('UpdateStatus') or {}).get('State', '').startswith('rollback')
        if docker_rolled_back:
            details['rolled_back'] = True
            raise FabricError('%s: the update failed and Docker rolled it back (update_config.failure_action: '
                              'rollback): %s. Task errors: %s' % (self.who, why, errors), **details)
        if p.get('rollback_on_failure') and previous is not None:
            self._write('rolling back service %s' % self.name, self._post, '/services/{0}/update', service['Spec'],
                        {'version': service['Version']['Index'], 'rollback': 'previous'}, service_id)
            rollback_since = service.get('UpdatedAt')
            outcome2, why2 = self._poll(service_id, self.clock() + timeout, node_count, rollback_since,
                                        rolling_back=True)[:2]
            details['rolled_back'] = outcome2 == 'done'
            details['changed'] = True
            details['diff'] = {'before': result['diff']['before'], 'after': result['diff']['before']}
            state = 'rolled back to the previous spec' if outcome2 == 'done' else \
                'the rollback to the previous spec did not converge either (%s)' % why2
            raise FabricError('%s: the update failed: %s. Task errors: %s. %s.'
                              % (self.who, why, errors, state[0].upper() + state[1:]), **details)
        hint = '' if previous is None else ' Set rollback_on_failure: true to roll back automatically.'
        raise FabricError('%s: the %s did not converge: %s. Task errors: %s.%s'
                          % (self.who, 'creation' if previous is None else 'update', why, errors, hint), **details)


def run(client, params, check_mode=False):
    return ServiceEngine(client, params, check_mode=check_mode).run()
