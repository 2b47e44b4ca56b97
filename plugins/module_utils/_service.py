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

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError

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

_DURATION_UNITS = {'ns': 1, 'us': 10 ** 3, 'µs': 10 ** 3, 'ms': 10 ** 6, 's': SECOND, 'm': 60 * SECOND,
                   'h': 3600 * SECOND}
_DURATION_PART = re.compile(r'(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)')


def parse_duration(value, field):
    """'1m30s', '500ms', '10' (seconds) or 10 -> nanoseconds."""
    if isinstance(value, bool):
        raise FabricError('%s: %r is not a duration; write it like 10s, 1m30s or 500ms.' % (field, value))
    if isinstance(value, (int, float)):
        if value < 0:
            raise FabricError('%s: %r is negative; give a duration of 0 or more, like 10s.' % (field, value))
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


def _display(spec, network_names):
    """The normalised spec with network ids shown as names, for diffs and results."""
    out = copy.deepcopy(spec)
    for net in (out.get('TaskTemplate') or {}).get('Networks') or []:
        net['Target'] = network_names.get(net.get('Target'), net.get('Target'))
    return out


# --- the engine ------------------------------------------------------------------

# Top-level options of the list form that are the default of each entry.
INHERITED = ('state', 'wait', 'wait_timeout', 'rollback_on_failure')
# The label Docker puts on a task's container: which service it belongs to.
SERVICE_ID_LABEL = 'com.docker.swarm.service.id'
# What the removal of a service waits for, and what a converge wait waits for.
REMOVAL, CONVERGE, IN_PROGRESS, PAUSED = 'removal', 'converge', 'in progress', 'paused'
# Task states in which a node runs, or may still start, the task's container.
LIVE_TASK_STATES = ('new', 'pending', 'assigned', 'accepted', 'ready', 'preparing', 'starting', 'running')


def entries_of(params):
    """The services of one task: the single form as one entry, or each entry of ``services``.

    In the list form the top-level ``state``, ``wait``, ``wait_timeout`` and
    ``rollback_on_failure`` are the default of every entry; the other service
    options belong in the entries. Returns (entries, list_form).
    """
    if params.get('services') is None:
        return [params], False
    given = [key for key in SERVICE_OPTIONS if params.get(key) is not None]
    if params.get('name') is not None or given:
        raise FabricError('swarm_service: with services, give %s inside each entry; only %s apply to every entry '
                          'from the top level.' % (', '.join((['name'] if params.get('name') is not None else []) + given),
                                                   ', '.join(INHERITED)))
    entries, seen = [], set()
    for item in params['services']:
        entry = dict(item)
        for key in INHERITED:
            if entry.get(key) is None:
                entry[key] = params.get(key)
        if entry.get('name') in seen:
            raise FabricError('swarm_service: services lists %s twice; give each service once.' % entry['name'])
        seen.add(entry.get('name'))
        entries.append(entry)
    return entries, True


def old_spec_tasks(service, tasks):
    """Tasks Docker still wants running on an older spec: an update under way (or cut short)."""
    template = (service.get('Spec') or {}).get('TaskTemplate') or {}
    return [t for t in tasks if t.get('DesiredState') == 'running' and not task_is_current(t, template)]


def update_in_progress(service, tasks):
    """Why the service is not settled although its spec is what was asked ('' when it is settled)."""
    state = (service.get('UpdateStatus') or {}).get('State')
    if state == 'updating':
        return 'update in progress'
    if state == 'rollback_started':
        return 'rollback in progress'
    if old_spec_tasks(service, tasks):
        return 'tasks still run an older spec'
    return ''


def group_waits(plans):
    """The plans to wait for, by kind: the ones sent, and unchanged ones whose update is still under way."""
    groups = {}
    for plan in plans:
        if plan.get('wait') and (plan.get('sent') or plan['action'] == 'none'):
            groups.setdefault(plan['wait'], []).append(plan['name'])
    return groups


class ServicesEngine:
    """One run of swarm_service: every service of the task planned from one listing, written, then waited for together."""

    POLL = 1.0

    def __init__(self, client, entries, check_mode=False, sleep=time.sleep, clock=time.monotonic, list_form=False):
        self.client = client
        self.entries = entries
        self.check_mode = check_mode
        self.list_form = list_form
        self.sleep = sleep
        self.clock = clock
        self.network_names = {}
        self.node_names = {}
        self.wrote = False

    # The one place that writes.
    def _write(self, doing, method, *args, **kwargs):
        if self.check_mode:
            return None
        result = self.client.call(doing, method, *args, **kwargs)
        self.wrote = True
        return result

    def _post(self, path, data, params=None, *fmt):
        api = self.client.api
        return api._result(api._post_json(api._url(path, *fmt), data=data, params=params), True)

    # --- reads -----------------------------------------------------------------------

    @staticmethod
    def _find(services, name):
        return next((s for s in services if (s.get('Spec') or {}).get('Name') == name), None) or \
            next((s for s in services if s.get('ID') == name), None)

    def _gates(self, entry, who):
        if entry.get('max_replicas_per_node') is not None:
            self.client.require('service.max_replicas_per_node', who=who)
        if entry.get('init') is not None:
            self.client.require('service.init', who=who)
        if entry.get('mode') in ('replicated-job', 'global-job'):
            self.client.require('service.job_mode', who=who)
        if entry.get('rollback_config') is not None:
            self.client.require('service.rollback_config', who=who)

    def _listings(self, services):
        """Networks, secrets and configs, each listed once for the whole task and only when needed."""
        present = [e for e in self.entries if e['state'] == 'present']
        removed = [e for e in self.entries if e['state'] == 'absent' and self._find(services, e['name'])]
        listings = {}
        if present or removed:
            listings['networks'] = self.client.call('listing networks', self.client.api.networks)
            for net in listings['networks']:
                self.network_names[net['Id']] = net['Name']
        for kind in ('secrets', 'configs'):
            if any(e.get(kind) for e in present):
                items = self.client.call('listing %s' % kind, getattr(self.client.api, kind))
                listings[kind] = dict((i['Spec']['Name'], i['ID']) for i in items)
        return listings

    def _resolve(self, entry, who, listings):
        """Names of networks, secrets and configs -> ids, failing on any that is missing or unusable."""
        resolved = {'networks': {}, 'secrets': {}, 'configs': {}}
        networks = listings.get('networks') or []
        for wanted in entry.get('networks') or []:
            name = wanted['name']
            match = [n for n in networks if n['Name'] == name] or [n for n in networks if n['Id'].startswith(name)]
            if not match:
                raise FabricError('%s: network %s does not exist on this manager; create it first as a '
                                  'swarm-scoped network (driver overlay).' % (who, name), network=name)
            net = match[0]
            if net.get('Scope') != 'swarm':
                raise FabricError('%s: network %s is %s-scoped (driver %s); services join only swarm-scoped '
                                  'networks. Use an overlay network.'
                                  % (who, name, net.get('Scope'), net.get('Driver')), network=name)
            if net.get('Ingress'):
                raise FabricError('%s: network %s is the ingress network; services reach it through ports, '
                                  'leave it out of networks.' % (who, name), network=name)
            resolved['networks'][name] = net['Id']
        for kind in ('secrets', 'configs'):
            for ref in entry.get(kind) or []:
                if ref['name'] not in listings[kind]:
                    raise FabricError('%s: %s %s does not exist; create it first (docker %s create).'
                                      % (who, kind[:-1], ref['name'], kind[:-1]), **{kind[:-1]: ref['name']})
                resolved[kind][ref['name']] = listings[kind][ref['name']]
        return resolved

    # --- planning ---------------------------------------------------------------------

    def _plan(self, entry, services, listings, running_tasks):
        name = entry['name']
        who = 'swarm_service %s' % name
        service = self._find(services, name)
        plan = {'name': name, 'who': who, 'entry': entry, 'service': service, 'action': 'none', 'changes': [],
                'wait': None, 'previous': None, 'since': None, 'rolling_back': False,
                'id': service['ID'] if service else None}
        if entry['state'] == 'absent':
            if service:
                plan.update(action='remove', before=_display(normalise(service['Spec']), self.network_names),
                            after={}, wait=REMOVAL if entry.get('wait', True) else None)
            return plan
        self._gates(entry, who)
        resolved = self._resolve(entry, who, listings)
        current = service['Spec'] if service else None
        if current and entry.get('mode') and MODES[entry['mode']] != mode_of(current):
            raise FabricError('%s: the service runs in mode %s and Docker cannot change the mode of a service; '
                              'remove it first (state: absent) to recreate it as %s.'
                              % (who, MODE_NAMES.get(mode_of(current), mode_of(current)), entry['mode']))
        if current and entry.get('replicas') is not None and mode_of(current) in ('Global', 'GlobalJob'):
            raise FabricError('%s: replicas does not go with mode %s (one task per node); leave replicas out.'
                              % (who, MODE_NAMES[mode_of(current)]))
        new = merge(current, partial_spec(entry, resolved, current), name)
        validate_spec(new, who)
        before, after = normalise(current), normalise(new)
        paths = differences(before, after)
        plan.update(new=new, before=_display(before, self.network_names), after=_display(after, self.network_names))
        waits = entry.get('wait', True)
        if not service:
            plan.update(action='create', changes=options_of(paths), wait=CONVERGE if waits else None)
        elif paths:
            plan.update(action='update', changes=options_of(paths), wait=CONVERGE if waits else None,
                        previous=current, since=service.get('UpdatedAt'))
        else:
            state = (service.get('UpdateStatus') or {}).get('State')
            mine = [t for t in running_tasks if t.get('ServiceID') == service['ID']]
            if state == 'paused':
                # Nothing to change, but the last update is stuck: say so (and roll back when asked).
                plan.update(in_progress='update paused', wait=PAUSED if waits else None,
                            previous=service.get('PreviousSpec'))
            else:
                why = update_in_progress(service, mine)
                if why:
                    plan.update(in_progress=why, wait=IN_PROGRESS if waits else None,
                                rolling_back=state == 'rollback_started', previous=service.get('PreviousSpec'))
        return plan

    def _check_ports(self, plans, services):
        """Published ports against the services as they will be after this task (its own plans included)."""
        planned = dict((p['id'], p) for p in plans if p['id'])
        future = []
        for other in services:
            plan = planned.get(other['ID'])
            if plan is None or plan['action'] == 'none':
                future.append(other)
            elif plan['action'] == 'update':
                future.append({'ID': other['ID'], 'Spec': plan['new']})
        future += [{'ID': 'new:' + p['name'], 'Spec': p['new']} for p in plans if p['action'] == 'create']
        for plan in plans:
            if plan['action'] not in ('create', 'update'):
                continue
            taken = port_conflicts(plan['new'], future, plan['id'] or 'new:' + plan['name'])
            if taken:
                raise FabricError('%s: published port %s already taken; choose another published port or '
                                  'remove that service.' % (plan['who'], ', '.join(taken)), ports_taken=taken)

    # --- writing ------------------------------------------------------------------------

    def _send(self, plan):
        name = plan['name']
        if plan['action'] == 'create':
            created = self._write('creating service %s' % name, self._post, '/services/create', plan['new'])
            plan['id'] = (created or {}).get('ID')
        elif plan['action'] == 'update':
            self._write('updating service %s' % name, self._post, '/services/{0}/update', plan['new'],
                        {'version': plan['service']['Version']['Index']}, plan['id'])
        elif plan['action'] == 'remove':
            self._write('removing service %s' % name, self.client.api.remove_service, plan['id'])
        plan['sent'] = True

    def _apply(self, plans):
        """Send every write before any wait: removals first (they free ports and names), then updates, then creates.

        Stops at the first refusal and returns that plan; the services after it are left untouched.
        """
        order = {'remove': 0, 'update': 1, 'create': 2}
        for plan in sorted((p for p in plans if p['action'] != 'none'), key=lambda p: order[p['action']]):
            try:
                self._send(plan)
            except FabricError as exc:
                plan['error'] = exc.msg
                return plan
        return None

    # --- waiting ------------------------------------------------------------------------

    def _nodes(self):
        nodes = self.client.call('listing nodes', self.client.api.nodes)
        self.node_names = dict((n['ID'], (n.get('Description') or {}).get('Hostname') or n['ID']) for n in nodes)
        ready = [n for n in nodes if (n.get('Status') or {}).get('State') == 'ready'
                 and (n.get('Spec') or {}).get('Availability') == 'active']
        return len(ready)

    def _poll(self, plans, node_count):
        """Poll all ``plans`` together until each is done, failed or out of time.

        Each round reads one listing of services and one of tasks (and, while
        removals are waited for, one of this node's task containers), whatever
        the number of services: ten services wait about as long as the slowest.
        """
        pending = list(plans)
        while pending:
            removals = [p for p in pending if p['wait'] == REMOVAL]
            services = dict((s['ID'], s) for s in self.client.call('listing services', self.client.api.services))
            if removals:
                # A removed service's tasks cannot be filtered by its id any more: list them all.
                tasks = self.client.call('listing tasks', self.client.api.tasks)
                # Running ones only: a stopped container holds no endpoint on any network.
                containers = self.client.call('listing the task containers of this node', self.client.api.containers,
                                              filters={'label': SERVICE_ID_LABEL})
            else:
                tasks = self.client.call('listing tasks', self.client.api.tasks,
                                         filters={'service': [p['id'] for p in pending]})
                containers = []
            by_service = {}
            for task in tasks:
                by_service.setdefault(task.get('ServiceID'), []).append(task)
            still = []
            for plan in pending:
                mine = by_service.get(plan['id'], [])
                if plan['wait'] == REMOVAL:
                    # Gone from every network: no task of it that a node still runs (or may start), and no
                    # container of it still running here. Finished tasks (a job's) may stay listed a while.
                    live = [t for t in mine if (t.get('Status') or {}).get('State') in LIVE_TASK_STATES]
                    local = [c for c in containers if (c.get('Labels') or {}).get(SERVICE_ID_LABEL) == plan['id']]
                    if not live and not local:
                        plan['outcome'] = 'done'
                        continue
                    plan['why'] = '%d task(s) still running or starting, %d container(s) still running on this node' % (
                        len(live), len(local))
                else:
                    service = services.get(plan['id'])
                    if service is None:
                        plan.update(outcome='failed', why='the service was removed meanwhile', failed=[])
                        continue
                    plan['last'] = service
                    placement = (service['Spec'].get('TaskTemplate') or {}).get('Placement') or {}
                    count = None if placement.get('Constraints') else node_count
                    outcome, why, failed = convergence(service, mine, count, plan['rolling_back'], plan['since'])
                    plan.update(why=why, failed=failed, tasks=mine)
                    if outcome != 'pending':
                        plan['outcome'] = outcome
                        continue
                if self.clock() >= plan['deadline']:
                    plan['outcome'] = 'timeout'
                    continue
                still.append(plan)
            pending = still
            if pending:
                self.sleep(self.POLL)

    def _wait(self, plans):
        waiting = [p for p in plans if p.get('wait') and (p.get('sent') or p['action'] == 'none')]
        if not waiting:
            return
        node_count = self._nodes() if any(p['wait'] != REMOVAL for p in waiting) else 0
        start = self.clock()
        for plan in waiting:
            plan['deadline'] = start + plan['entry'].get('wait_timeout', 120)
        self._poll(waiting, node_count)
        rollbacks = []
        for plan in waiting:
            if plan['wait'] == REMOVAL or plan['outcome'] == 'done':
                continue
            state = ((plan.get('last') or {}).get('UpdateStatus') or {}).get('State', '')
            plan['docker_rolled_back'] = state.startswith('rollback') and not plan['rolling_back']
            if (plan['entry'].get('rollback_on_failure') and plan['previous'] is not None
                    and not plan['docker_rolled_back'] and plan.get('last')):
                service = plan['last']
                try:
                    self._write('rolling back service %s' % plan['name'], self._post, '/services/{0}/update',
                                service['Spec'], {'version': service['Version']['Index'], 'rollback': 'previous'},
                                plan['id'])
                except FabricError as exc:
                    plan['rollback'] = {'outcome': 'failed', 'why': exc.msg}
                    continue
                rollbacks.append({'plan': plan, 'name': plan['name'], 'wait': CONVERGE, 'id': plan['id'],
                                  'rolling_back': True, 'since': service.get('UpdatedAt'),
                                  'deadline': self.clock() + plan['entry'].get('wait_timeout', 120)})
        if rollbacks:
            self._poll(rollbacks, node_count)
            for rollback in rollbacks:
                rollback['plan']['rollback'] = rollback

    # --- reporting ----------------------------------------------------------------------

    def _failure(self, plan):
        """The one-line message of a service that did not converge, or None when it did."""
        who = plan['who']
        if plan.get('error'):
            return '%s: %s' % (who, plan['error'])
        outcome = plan.get('outcome')
        if outcome in (None, 'done'):
            return None
        timeout = plan['entry'].get('wait_timeout', 120)
        if plan['wait'] == REMOVAL:
            return ('%s: removed, but not gone within wait_timeout=%ss (%s); raise wait_timeout or look at the '
                    'nodes of those tasks.' % (who, timeout, plan.get('why')))
        failed = [task_summary(t, self.node_names) for t in plan.get('failed') or []]
        why = plan.get('why')
        if outcome == 'timeout':
            pending = [task_summary(t, self.node_names) for t in plan.get('tasks') or []
                       if t.get('DesiredState') == 'running' and (t.get('Status') or {}).get('State') != 'running']
            failed += [t for t in pending if t not in failed]
            why = 'not converged within wait_timeout=%ss (%s)' % (timeout, why)
        plan['failed_tasks'] = failed
        errors = '; '.join('%s slot %s: %s' % (t['node'], t['slot'], t.get('error') or t.get('message') or t['state'])
                           for t in failed[:5]) or 'no task error reported'
        if plan.get('docker_rolled_back'):
            plan['rolled_back'] = True
            return ('%s: the update failed and Docker rolled it back (update_config.failure_action: rollback): %s. '
                    'Task errors: %s' % (who, why, errors))
        rollback = plan.get('rollback')
        if rollback:
            plan['rolled_back'] = rollback.get('outcome') == 'done'
            state = ('rolled back to the previous spec' if plan['rolled_back'] else
                     'the rollback to the previous spec did not converge either (%s)' % rollback.get('why'))
            return '%s: the update failed: %s. Task errors: %s. %s.' % (who, why, errors, state[0].upper() + state[1:])
        plan['rolled_back'] = False
        what = {CONVERGE: 'creation' if plan['action'] == 'create' else 'update', PAUSED: 'update',
                IN_PROGRESS: 'update already in progress'}[plan['wait']]
        hint = '' if plan['previous'] is None else ' Set rollback_on_failure: true to roll back automatically.'
        return '%s: the %s did not converge: %s. Task errors: %s.%s' % (who, what, why, errors, hint)

    def _service_result(self, plan):
        out = {'name': plan['name'], 'action': plan['action'], 'changes': plan['changes']}
        if plan.get('in_progress'):
            out['in_progress'] = plan['in_progress']
        if plan.get('outcome') and plan['wait'] != REMOVAL:
            out['converged'] = plan['outcome'] == 'done'
        for key in ('failed_tasks', 'rolled_back'):
            if key in plan:
                out[key] = plan[key]
        if plan.get('error') or (plan['action'] != 'none' and not plan.get('sent') and not self.check_mode):
            out['untouched'] = not plan.get('sent')
        return out

    def run(self):
        for entry in self.entries:
            validate_params(entry)
        services = self.client.call('listing services', self.client.api.services)
        listings = self._listings(services)
        running = []
        if any(e['state'] == 'present' and self._find(services, e['name']) for e in self.entries):
            # One listing serves every unchanged service: is an update of it still under way?
            running = self.client.call('listing tasks', self.client.api.tasks, filters={'desired-state': 'running'})
        # Every refusal happens here, before the first write.
        plans = [self._plan(entry, services, listings, running) for entry in self.entries]
        self._check_ports(plans, services)
        refused = None
        if not self.check_mode:
            refused = self._apply(plans)
            self._wait(plans)
        failures = [m for m in (self._failure(p) for p in plans) if m]
        return self._report(plans, failures, refused)

    def _report(self, plans, failures, refused):
        if not self.list_form:
            return self._report_one(plans[0], failures)
        changed = [p for p in plans if p['action'] != 'none' and (p.get('sent') or self.check_mode)]
        result = {
            'changed': bool(changed) or self.wrote,
            'actions': ['%s %s' % (p['action'], p['name']) for p in changed],
            'services': [self._service_result(p) for p in plans],
            'diff': {'before': dict((p['name'], p.get('before') or None) for p in changed),
                     'after': dict((p['name'], p.get('after') or None) for p in changed)},
        }
        if failures:
            done = ['%s (%s)' % (p['name'], p['action']) for p in changed if not self._failure(p)]
            untouched = [p['name'] for p in plans if p['action'] != 'none' and not p.get('sent') and p is not refused]
            tail = ''
            if done:
                tail += ' Done: %s.' % ', '.join(done)
            if untouched:
                tail += ' Not touched: %s.' % ', '.join(untouched)
            raise FabricError(' | '.join(failures) + tail, **result)
        return result

    def _report_one(self, plan, failures):
        """The single form's result, as swarm_service has always returned it."""
        result = {'changed': False, 'actions': [], 'changes': []}
        if plan['action'] != 'none':
            result.update(changed=True, actions=[plan['action']], changes=plan['changes'])
        if plan['action'] == 'remove':
            result['diff'] = {'before': plan['before'], 'after': {}}
        elif 'after' in plan:
            result['diff'] = {'before': plan['before'], 'after': plan['after']}
            result['spec'] = plan['after']
        if plan.get('in_progress'):
            result['in_progress'] = plan['in_progress']
        if plan.get('outcome') and plan['wait'] != REMOVAL:
            result['converged'] = plan['outcome'] == 'done'
        if failures:
            details = dict(result, failed_tasks=plan.get('failed_tasks', []), rolled_back=plan.get('rolled_back', False))
            if plan.get('rollback'):
                details['changed'] = True
                details['diff'] = {'before': plan['before'], 'after': plan['before']}
            if plan.get('error'):
                details.pop('failed_tasks')
                details.pop('rolled_back')
                details['changed'] = self.wrote
            raise FabricError(failures[0], **details)
        if plan['action'] in ('create', 'update') and not self.check_mode:
            result['service'] = self.client.call('reading service %s' % plan['name'],
                                                 self.client.api.inspect_service, plan['id'])
            result['spec'] = _display(normalise(result['service']['Spec']), self.network_names)
        elif plan['action'] == 'none' and plan['service']:
            result['service'] = plan['service']
        return result


def run(client, params, check_mode=False):
    entries, list_form = entries_of(params)
    return ServicesEngine(client, entries, check_mode=check_mode, list_form=list_form).run()


# --- the argument spec ------------------------------------------------------------

def _rollout_options():
    return dict(
        parallelism=dict(type='int'),
        delay=dict(type='str'),
        failure_action=dict(type='str', choices=['continue', 'pause', 'rollback']),
        monitor=dict(type='str'),
        max_failure_ratio=dict(type='float'),
        order=dict(type='str', choices=['stop-first', 'start-first']),
    )


def _ref_options():
    return dict(
        name=dict(type='str', required=True),
        target=dict(type='str'),
        uid=dict(type='str'),
        gid=dict(type='str'),
        mode=dict(type='int'),
    )


def service_options_spec():
    """The options that describe one service (the single form, and each entry of ``services``)."""
    return dict(
        mode=dict(type='str', choices=['replicated', 'global', 'replicated-job', 'global-job']),
        replicas=dict(type='int'),
        image=dict(type='str'),
        command=dict(type='raw'),
        args=dict(type='raw'),
        env=dict(type='raw'),
        labels=dict(type='dict'),
        container_labels=dict(type='dict'),
        hostname=dict(type='str'),
        user=dict(type='str'),
        workdir=dict(type='str'),
        init=dict(type='bool'),
        networks=dict(type='list', elements='raw'),
        endpoint_mode=dict(type='str', choices=['vip', 'dnsrr']),
        ports=dict(type='list', elements='dict', options=dict(
            published=dict(type='int'),
            target=dict(type='int', required=True),
            protocol=dict(type='str', choices=['tcp', 'udp', 'sctp'], default='tcp'),
            mode=dict(type='str', choices=['ingress', 'host'], default='ingress'),
        )),
        constraints=dict(type='list', elements='str'),
        preferences=dict(type='list', elements='str'),
        max_replicas_per_node=dict(type='int'),
        restart_policy=dict(type='dict', options=dict(
            condition=dict(type='str', choices=['none', 'on-failure', 'any']),
            delay=dict(type='str'),
            max_attempts=dict(type='int'),
            window=dict(type='str'),
        )),
        update_config=dict(type='dict', options=_rollout_options()),
        rollback_config=dict(type='dict', options=_rollout_options()),
        resources=dict(type='dict', options=dict(
            limits=dict(type='dict', options=dict(cpus=dict(type='float'), memory=dict(type='str'),
                                                  pids=dict(type='int'))),
            reservations=dict(type='dict', options=dict(cpus=dict(type='float'), memory=dict(type='str'))),
        )),
        healthcheck=dict(type='dict', options=dict(
            test=dict(type='raw'),
            interval=dict(type='str'),
            timeout=dict(type='str'),
            retries=dict(type='int'),
            start_period=dict(type='str'),
        )),
        mounts=dict(type='list', elements='dict', options=dict(
            source=dict(type='str'),
            target=dict(type='str', required=True),
            type=dict(type='str', choices=['bind', 'volume', 'tmpfs'], default='volume'),
            readonly=dict(type='bool', default=False),
        )),
        # Names of swarm secrets, never their content.
        secrets=dict(type='list', elements='dict', options=_ref_options(), no_log=False),
        configs=dict(type='list', elements='dict', options=_ref_options()),
        stop_signal=dict(type='str'),
        stop_grace_period=dict(type='str'),
        dns=dict(type='list', elements='str'),
        dns_search=dict(type='list', elements='str'),
        dns_options=dict(type='list', elements='str'),
    )


SERVICE_OPTIONS = tuple(service_options_spec())


def argument_spec(connection_spec):
    """swarm_service's whole argument spec: connection options, one service, or ``services``."""
    spec = dict(connection_spec)
    spec.update(service_options_spec())
    spec.update(
        name=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=120),
        rollback_on_failure=dict(type='bool', default=False),
    )
    element = service_options_spec()
    # No defaults in the entries: what an entry leaves out comes from the top level.
    element.update(
        name=dict(type='str', required=True),
        state=dict(type='str', choices=['present', 'absent']),
        wait=dict(type='bool'),
        wait_timeout=dict(type='int'),
        rollback_on_failure=dict(type='bool'),
    )
    spec['services'] = dict(type='list', elements='dict', options=element)
    return spec


MODULE_KWARGS = dict(
    mutually_exclusive=[('name', 'services')],
    required_one_of=[('name', 'services')],
    supports_check_mode=True,
)
