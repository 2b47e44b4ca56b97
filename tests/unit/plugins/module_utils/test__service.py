# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""swarm_service's engine: parsing, partial specs, normalisation, convergence, check mode."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils import _service as svc
from ansible_collections.docknet.fabric.plugins.module_utils import _service_checks as svc_checks
from ansible_collections.docknet.fabric.plugins.module_utils import _service_spec as svc_spec
from ansible_collections.docknet.fabric.plugins.module_utils import _service_tasks as svc_tasks
from ansible_collections.docknet.fabric.plugins.module_utils import _values as values
from ansible_collections.docknet.fabric.plugins.module_utils._client import DockerClient, FabricError

S = svc_spec.SECOND


@pytest.mark.parametrize('value, expected', [
    ('10s', 10 * S), ('1m30s', 90 * S), ('500ms', S // 2), ('1h', 3600 * S), ('10', 10 * S),
    (2, 2 * S), ('1.5s', int(1.5 * S)), ('0', 0), ('250us', 250000),
])
def test_parse_duration(value, expected):
    assert values.parse_duration(value, 'delay') == expected


@pytest.mark.parametrize('value', ['10x', 'soon', '', '1s2', True, '-1s'])
def test_parse_duration_rejects(value):
    with pytest.raises(FabricError, match='delay: .* is not a duration'):
        values.parse_duration(value, 'delay')


@pytest.mark.parametrize('value, expected', [
    ('512M', 512 * 1024 ** 2), ('1g', 1024 ** 3), ('1.5GiB', int(1.5 * 1024 ** 3)), (4096, 4096),
    ('100', 100), ('64k', 65536), ('2mb', 2 * 1024 ** 2),
])
def test_parse_bytes(value, expected):
    assert svc_spec.parse_bytes(value, 'memory') == expected


@pytest.mark.parametrize('value', ['lots', '1X', True, '1.2.3M'])
def test_parse_bytes_rejects(value):
    with pytest.raises(FabricError, match='memory: .* is not a size'):
        svc_spec.parse_bytes(value, 'memory')


@pytest.mark.parametrize('wanted, current, same', [
    ('busybox', 'docker.io/library/busybox:latest', True),
    ('busybox:latest', 'busybox', True),
    ('docknet/probe:latest', 'docknet/probe:latest@sha256:abc', True),
    ('docknet/probe', 'docknet/probe:latest', True),
    ('docknet/probe:1', 'docknet/probe:latest', False),
    ('docknet/probe@sha256:abc', 'docknet/probe:latest@sha256:abc', True),
    ('docknet/probe@sha256:abc', 'docknet/probe:latest@sha256:def', False),
    ('docknet/probe@sha256:abc', 'docknet/probe:latest', False),
    ('registry:5000/app', 'registry:5000/app:latest', True),
    ('registry:5000/app', 'app', False),
])
def test_same_image(wanted, current, same):
    assert svc_spec.same_image(wanted, current) is same


@pytest.mark.parametrize('value, expected', [
    ({'A': '1', 'B': 2}, ['A=1', 'B=2']), (['A=1', 'B=x=y'], ['A=1', 'B=x=y']), ({'E': None}, ['E=']),
])
def test_env_list(value, expected):
    assert svc_spec.env_list(value) == expected


@pytest.mark.parametrize('value, message', [
    ({'A': True}, 'is a boolean; quote it'), (['A'], 'is not KEY=VALUE'), ('A=1', 'give a dict'),
])
def test_env_list_rejects(value, message):
    with pytest.raises(FabricError, match=message):
        svc_spec.env_list(value)


@pytest.mark.parametrize('value, expected', [
    ('sleep 3600', ['sleep', '3600']), (['sh', '-c', 'exit 3'], ['sh', '-c', 'exit 3']),
    ("sh -c 'echo hi'", ['sh', '-c', 'echo hi']), ([1, 'a'], ['1', 'a']),
])
def test_split_command(value, expected):
    assert svc_spec.split_command(value, 'command') == expected


# What Docker 20.10 answers for a service created with a minimal spec.
DOCKER_MINIMAL = {
    'Name': 'web', 'Labels': {},
    'TaskTemplate': {'ContainerSpec': {'Image': 'docknet/probe:latest', 'Isolation': 'default'},
                     'ForceUpdate': 0, 'Runtime': 'container'},
    'Mode': {'Replicated': {'Replicas': 1}},
    'EndpointSpec': {'Mode': 'vip', 'Ports': [{'Protocol': 'tcp', 'TargetPort': 80, 'PublishMode': 'ingress'}]},
}


@pytest.mark.parametrize('sent', [
    {'Name': 'web', 'TaskTemplate': {'ContainerSpec': {'Image': 'docknet/probe'}},
     'EndpointSpec': {'Ports': [{'TargetPort': 80}]}},
    {'Name': 'web', 'TaskTemplate': {'ContainerSpec': {'Image': 'docknet/probe:latest'},
                                     'RestartPolicy': dict(svc_spec.RESTART_DEFAULTS)},
     'UpdateConfig': dict(svc_spec.UPDATE_DEFAULTS), 'RollbackConfig': dict(svc_spec.UPDATE_DEFAULTS),
     'Mode': {'Replicated': {}}, 'EndpointSpec': {'Mode': 'vip', 'Ports': [{'TargetPort': 80, 'Protocol': 'tcp'}]}},
])
def test_dockers_defaults_are_no_difference(sent):
    assert svc_spec.differences(svc_spec.normalise(sent), svc_spec.normalise(DOCKER_MINIMAL)) == []


@pytest.mark.parametrize('change, path', [
    ({'Mode': {'Replicated': {'Replicas': 0}}}, 'Mode.Replicated.Replicas'),
    ({'UpdateConfig': {'Parallelism': 1}}, 'UpdateConfig.Monitor'),   # a present section: missing = zero
    ({'EndpointSpec': {'Mode': 'dnsrr'}}, 'EndpointSpec.Mode'),
    ({'Labels': {'a': 'b'}}, 'Labels.a'),
])
def test_real_changes_are_differences(change, path):
    changed = copy.deepcopy(DOCKER_MINIMAL)
    changed.update(change)
    assert path in svc_spec.differences(svc_spec.normalise(DOCKER_MINIMAL), svc_spec.normalise(changed))


def test_order_docker_ignores_is_no_difference():
    one = {'TaskTemplate': {'ContainerSpec': {'Image': 'a', 'Env': ['A=1', 'B=2'],
                                              'Mounts': [{'Target': '/b'}, {'Target': '/a', 'Type': 'volume'}]},
                            'Placement': {'Constraints': ['node.role==worker', 'node.labels.a == b']},
                            'Networks': [{'Target': 'n2', 'Aliases': ['y', 'x']}, {'Target': 'n1'}]},
           'EndpointSpec': {'Ports': [{'TargetPort': 2}, {'TargetPort': 1, 'PublishMode': 'host'}]}}
    two = {'TaskTemplate': {'ContainerSpec': {'Image': 'a', 'Env': ['B=2', 'A=1'],
                                              'Mounts': [{'Target': '/a'}, {'Target': '/b', 'ReadOnly': False}]},
                            'Placement': {'Constraints': ['node.labels.a==b', 'node.role==worker']},
                            'Networks': [{'Target': 'n1', 'Aliases': []}, {'Target': 'n2', 'Aliases': ['x', 'y']}]},
           'EndpointSpec': {'Ports': [{'TargetPort': 1, 'PublishMode': 'host', 'Protocol': 'tcp'}, {'TargetPort': 2}]}}
    assert svc_spec.differences(svc_spec.normalise(one), svc_spec.normalise(two)) == []


def test_order_that_matters_is_a_difference():
    one = {'TaskTemplate': {'ContainerSpec': {'Image': 'a', 'Command': ['a', 'b'],
                                              'DNSConfig': {'Nameservers': ['1.1.1.1', '8.8.8.8']}}}}
    two = {'TaskTemplate': {'ContainerSpec': {'Image': 'a', 'Command': ['b', 'a'],
                                              'DNSConfig': {'Nameservers': ['8.8.8.8', '1.1.1.1']}}}}
    assert svc_spec.differences(svc_spec.normalise(one), svc_spec.normalise(two)) == [
        'TaskTemplate.ContainerSpec.Command', 'TaskTemplate.ContainerSpec.DNSConfig.Nameservers']


def params(**given):
    base = dict((name, None) for name in (
        'mode', 'replicas', 'image', 'command', 'args', 'env', 'labels', 'container_labels', 'hostname',
        'user', 'workdir', 'init', 'networks', 'endpoint_mode', 'ports', 'constraints', 'preferences',
        'max_replicas_per_node', 'restart_policy', 'update_config', 'rollback_config', 'resources',
        'healthcheck', 'mounts', 'secrets', 'configs', 'stop_signal', 'stop_grace_period', 'dns',
        'dns_search', 'dns_options'))
    base.update(name='web', state='present', wait=True, wait_timeout=30, rollback_on_failure=False)
    base.update(given)
    return base


RESOLVED = {'networks': {'ov': 'netid1', 'ov2': 'netid2'}, 'secrets': {'s1': 'sid1'}, 'configs': {}}

CURRENT = {
    'Name': 'web', 'Labels': {'team': 'a'},
    'TaskTemplate': {'ContainerSpec': {'Image': 'docknet/probe:latest@sha256:abc', 'Command': ['sleep', '3600'],
                                       'Env': ['A=1', 'B=2'], 'Isolation': 'default'},
                     'Networks': [{'Target': 'netid1'}], 'ForceUpdate': 0, 'Runtime': 'container'},
    'Mode': {'Replicated': {'Replicas': 3}},
    'EndpointSpec': {'Mode': 'dnsrr'},
}


def test_partial_update_keeps_what_is_not_given():
    sets = svc_spec.partial_spec(params(env={'A': '1', 'B': '3'}, image='docknet/probe'), RESOLVED, CURRENT)
    assert sets == [('TaskTemplate.ContainerSpec.Env', ['A=1', 'B=3'])]
    merged = svc_spec.merge(CURRENT, sets, 'web')
    changed = svc_spec.differences(svc_spec.normalise(CURRENT), svc_spec.normalise(merged))
    assert changed == ['TaskTemplate.ContainerSpec.Env']
    assert svc_spec.options_of(changed) == ['env']
    assert merged['Mode'] == {'Replicated': {'Replicas': 3}}
    assert merged['TaskTemplate']['ContainerSpec']['Image'] == 'docknet/probe:latest@sha256:abc'
    assert CURRENT['TaskTemplate']['ContainerSpec']['Env'] == ['A=1', 'B=2']   # not mutated


def test_new_service_gets_mode_and_job_restart_policy():
    sets = svc_spec.partial_spec(params(image='x', mode='replicated-job', replicas=3), RESOLVED, None)
    spec = svc_spec.merge(None, sets, 'job')
    assert spec['Mode'] == {'ReplicatedJob': {'TotalCompletions': 3, 'MaxConcurrent': 3}}
    assert spec['TaskTemplate']['RestartPolicy']['Condition'] == 'on-failure'
    assert spec['Name'] == 'job'


def test_first_update_config_starts_from_dockers_defaults():
    sets = svc_spec.partial_spec(params(update_config={'monitor': '2s', 'parallelism': None, 'delay': None,
                                                       'failure_action': None, 'max_failure_ratio': None,
                                                       'order': None}), RESOLVED, CURRENT)
    merged = svc_spec.merge(CURRENT, sets, 'web')
    assert merged['UpdateConfig'] == dict(svc_spec.UPDATE_DEFAULTS, Monitor=2 * S)


@pytest.mark.parametrize('option, value, path, expected', [
    # The collection's one duration grammar: days and spaces between parts, as for the swarm settings.
    ('stop_grace_period', '1d', ('TaskTemplate', 'ContainerSpec', 'StopGracePeriod'), 86400 * S),
    ('stop_grace_period', '1m 30s', ('TaskTemplate', 'ContainerSpec', 'StopGracePeriod'), 90 * S),
    ('update_config', {'delay': '2d'}, ('UpdateConfig', 'Delay'), 2 * 86400 * S),
])
def test_service_durations_take_days_and_spaces(option, value, path, expected):
    spec = svc_spec.merge(None, svc_spec.partial_spec(params(image='img', **{option: value}), RESOLVED, None), 'web')
    for key in path:
        spec = spec[key]
    assert spec == expected


def test_every_option_lands_where_docker_expects_it():
    p = params(image='img', command='sleep 1', args=['x'], env=['A=1'], labels={'l': 1}, container_labels={'c': 'd'},
               hostname='h', user='nobody', workdir='/tmp', init=True, stop_signal='SIGINT', stop_grace_period='2s',
               networks=[{'name': 'ov', 'aliases': ['a'], 'driver_opts': {'o': 1}}], endpoint_mode='vip',
               ports=[{'published': 80, 'target': 8080, 'protocol': 'udp', 'mode': 'host'}],
               constraints=['node.role==worker'], preferences=['node.labels.zone'], max_replicas_per_node=1,
               resources={'limits': {'cpus': 0.5, 'memory': '64M', 'pids': 10},
                          'reservations': {'cpus': None, 'memory': '32M'}},
               healthcheck={'test': 'true', 'interval': '5s', 'timeout': None, 'retries': 2, 'start_period': None},
               mounts=[{'target': '/data', 'source': 'vol', 'type': 'volume', 'readonly': True}],
               secrets=[{'name': 's1', 'target': None, 'uid': None, 'gid': None, 'mode': 0o400}],
               dns=['10.0.0.2'], dns_search=['lab'], dns_options=['ndots:2'], replicas=2,
               restart_policy={'condition': 'on-failure', 'delay': None, 'max_attempts': 3, 'window': None})
    spec = svc_spec.merge(None, svc_spec.partial_spec(p, RESOLVED, None), 'web')
    c = spec['TaskTemplate']['ContainerSpec']
    assert c['Command'] == ['sleep', '1'] and c['Args'] == ['x'] and c['Dir'] == '/tmp' and c['Init'] is True
    assert c['StopGracePeriod'] == 2 * S and c['Healthcheck'] == {'Test': ['CMD-SHELL', 'true'], 'Interval': 5 * S,
                                                                  'Retries': 2}
    assert c['Secrets'] == [{'SecretID': 'sid1', 'SecretName': 's1',
                             'File': {'Name': 's1', 'UID': '0', 'GID': '0', 'Mode': 0o400}}]
    assert c['DNSConfig'] == {'Nameservers': ['10.0.0.2'], 'Search': ['lab'], 'Options': ['ndots:2']}
    assert c['Mounts'] == [{'Type': 'volume', 'Target': '/data', 'Source': 'vol', 'ReadOnly': True}]
    t = spec['TaskTemplate']
    assert t['Networks'] == [{'Target': 'netid1', 'Aliases': ['a'], 'DriverOpts': {'o': '1'}}]
    assert t['Placement'] == {'Constraints': ['node.role==worker'], 'MaxReplicas': 1,
                              'Preferences': [{'Spread': {'SpreadDescriptor': 'node.labels.zone'}}]}
    assert t['Resources'] == {'Limits': {'NanoCPUs': S // 2, 'MemoryBytes': 64 * 1024 ** 2, 'Pids': 10},
                              'Reservations': {'MemoryBytes': 32 * 1024 ** 2}}
    assert t['RestartPolicy'] == dict(svc_spec.RESTART_DEFAULTS, Condition='on-failure', MaxAttempts=3)
    assert spec['Labels'] == {'l': '1'} and spec['Mode'] == {'Replicated': {'Replicas': 2}}
    assert spec['EndpointSpec'] == {'Mode': 'vip', 'Ports': [{'Protocol': 'udp', 'TargetPort': 8080,
                                                              'PublishMode': 'host', 'PublishedPort': 80}]}
    # And the same options again against what was created: nothing to do.
    again = svc_spec.merge(spec, svc_spec.partial_spec(p, RESOLVED, spec), 'web')
    assert svc_spec.differences(svc_spec.normalise(spec), svc_spec.normalise(again)) == []


@pytest.mark.parametrize('given, message', [
    (dict(mode='global', replicas=2), 'replicas does not go with mode global'),
    (dict(mode='global-job', max_replicas_per_node=1), 'max_replicas_per_node does not go with mode global-job'),
    (dict(replicas=-1), 'replicas must be 0 or more'),
    (dict(networks=[{'name': 'a'}, {'name': 'a'}]), 'lists a network more than once'),
    (dict(ports=[{'target': 0, 'published': None}]), 'is not a port number'),
    (dict(ports=[{'target': 1, 'published': 80}, {'target': 2, 'published': 80}]), 'publishes 80/tcp twice'),
])
def test_validate_params(given, message):
    with pytest.raises(FabricError, match=message):
        svc_checks.validate_params(params(**given))


@pytest.mark.parametrize('spec, message', [
    ({'EndpointSpec': {'Mode': 'dnsrr', 'Ports': [{'TargetPort': 80}]},
      'TaskTemplate': {'ContainerSpec': {'Image': 'a'}}}, 'dnsrr cannot publish ports through the ingress'),
    ({'Name': 'x'}, 'image is required'),
])
def test_validate_spec(spec, message):
    with pytest.raises(FabricError, match=message):
        svc_checks.validate_spec(spec, 'swarm_service x')


def test_dnsrr_with_host_ports_is_fine():
    svc_checks.validate_spec({'EndpointSpec': {'Mode': 'dnsrr', 'Ports': [{'TargetPort': 80, 'PublishMode': 'host'}]},
                             'TaskTemplate': {'ContainerSpec': {'Image': 'a'}}}, 'swarm_service x')


OTHER = {'ID': 'o1', 'Spec': {'Name': 'other', 'EndpointSpec': {'Ports': [
    {'TargetPort': 80, 'PublishedPort': 8080, 'Protocol': 'tcp', 'PublishMode': 'ingress'},
    {'TargetPort': 81, 'PublishedPort': 9090, 'Protocol': 'tcp', 'PublishMode': 'host'}]}}}


@pytest.mark.parametrize('port, taken', [
    ({'PublishedPort': 8080}, ['8080/tcp (service other)']),
    ({'PublishedPort': 8080, 'Protocol': 'udp'}, []),
    ({'PublishedPort': 8080, 'PublishMode': 'host'}, ['8080/tcp (service other)']),
    ({'PublishedPort': 9090, 'PublishMode': 'host'}, []),
    ({'PublishedPort': 9090}, ['9090/tcp (service other)']),
    ({'PublishedPort': 7070}, []),
])
def test_port_conflicts(port, taken):
    spec = {'EndpointSpec': {'Ports': [dict({'TargetPort': 1}, **port)]}}
    assert svc_checks.port_conflicts(spec, [OTHER], 'me') == taken
    assert svc_checks.port_conflicts(spec, [OTHER], 'o1') == []


@pytest.mark.parametrize('text, before', [
    ('2026-11-27T19:49:29.8129226Z', '2026-11-27T19:49:29.81292269Z'),
    ('2026-11-27T19:49:29Z', '2026-11-27T19:49:29.000000001Z'),
])
def test_timestamps_sort_in_time_order(text, before):
    assert svc_tasks.timestamp(text) < svc_tasks.timestamp(before)


TEMPLATE = {'ContainerSpec': {'Image': 'a', 'Command': ['new']}, 'ForceUpdate': 0, 'Runtime': 'container'}
OLD = {'ContainerSpec': {'Image': 'a', 'Command': ['old']}}


def task(spec, state, desired='running', node='n1', created='2026-01-01T00:00:10Z', err=None, service_id='sv1'):
    return {'ID': 't-%s-%s' % (state, node), 'ServiceID': service_id, 'Spec': spec, 'NodeID': node, 'Slot': 1, 'DesiredState': desired,
            'CreatedAt': created, 'Status': dict({'State': state}, **({'Err': err} if err else {}))}


def service(replicas=2, update=None, mode=None):
    out = {'Spec': {'TaskTemplate': TEMPLATE, 'Mode': mode or {'Replicated': {'Replicas': replicas}}}}
    if update:
        out['UpdateStatus'] = {'State': update, 'Message': 'msg-%s' % update}
    return out


@pytest.mark.parametrize('svc_, tasks, nodes, outcome', [
    (service(), [task(TEMPLATE, 'running'), task(TEMPLATE, 'running', node='n2')], None, 'done'),
    (service(), [task(TEMPLATE, 'running'), task(OLD, 'running', node='n2')], None, 'pending'),
    (service(), [task(TEMPLATE, 'running'), task(TEMPLATE, 'starting', node='n2')], None, 'pending'),
    (service(update='updating'), [task(TEMPLATE, 'running'), task(TEMPLATE, 'running', node='n2')], None, 'pending'),
    (service(update='completed'), [task(TEMPLATE, 'running'), task(TEMPLATE, 'running', node='n2'),
                                   task(OLD, 'shutdown', desired='shutdown')], None, 'done'),
    (service(update='paused'), [task(TEMPLATE, 'failed', desired='shutdown', err='task: non-zero exit (3)')],
     None, 'failed'),
    (service(update='rollback_completed'), [task(OLD, 'running')], None, 'failed'),
    (service(), [task(TEMPLATE, 'failed', desired='shutdown'), task(TEMPLATE, 'failed', node='n2',
                                                                    desired='shutdown')], None, 'failed'),
    (service(), [task(TEMPLATE, 'failed', desired='shutdown'), task(TEMPLATE, 'running')], None, 'pending'),
    (service(replicas=0), [], None, 'done'),
    (service(mode={'Global': {}}), [task(TEMPLATE, 'running'), task(TEMPLATE, 'running', node='n2')], 3, 'pending'),
    (service(mode={'Global': {}}), [task(TEMPLATE, 'running', node=n) for n in 'abc'], 3, 'done'),
    (service(mode={'Global': {}}), [task(TEMPLATE, 'running', node=n) for n in 'ab'], None, 'done'),
    (service(mode={'ReplicatedJob': {'TotalCompletions': 2}}),
     [task(TEMPLATE, 'complete', desired='complete'), task(TEMPLATE, 'running', desired='complete')], None, 'pending'),
    (service(mode={'ReplicatedJob': {'TotalCompletions': 2}}),
     [task(TEMPLATE, 'complete', desired='complete', node=n) for n in 'ab'], None, 'done'),
])
def test_convergence(svc_, tasks, nodes, outcome):
    assert svc_tasks.convergence(svc_, tasks, nodes)[0] == outcome


def test_old_failures_of_the_same_spec_do_not_count():
    tasks = [task(TEMPLATE, 'failed', desired='shutdown', created='2026-01-01T00:00:01Z', node=n) for n in 'ab']
    assert svc_tasks.convergence(service(), tasks, since='2026-01-01T00:00:05Z')[0] == 'pending'
    assert svc_tasks.convergence(service(), tasks)[0] == 'failed'


def test_rollback_in_progress_is_pending_then_done():
    rolled = {'Spec': {'TaskTemplate': OLD, 'Mode': {'Replicated': {'Replicas': 1}}},
              'UpdateStatus': {'State': 'rollback_started'}}
    assert svc_tasks.convergence(rolled, [task(OLD, 'running')], rolling_back=True)[0] == 'pending'
    rolled['UpdateStatus']['State'] = 'rollback_completed'
    assert svc_tasks.convergence(rolled, [task(OLD, 'running')], rolling_back=True)[0] == 'done'


# --- check mode writes nothing -------------------------------------------------

class ReadOnlyAPI:
    """A Docker API double: answers reads from fixed data, fails the test on any write."""

    api_version = '1.41'
    timeout = 5

    def __init__(self, services=()):
        self._services = list(services)

    def services(self):
        return copy.deepcopy(self._services)

    def networks(self):
        return [{'Id': 'netid1', 'Name': 'ov', 'Scope': 'swarm', 'Driver': 'overlay'},
                {'Id': 'br', 'Name': 'bridge', 'Scope': 'local', 'Driver': 'bridge'},
                {'Id': 'ing', 'Name': 'ingress', 'Scope': 'swarm', 'Driver': 'overlay', 'Ingress': True}]

    def secrets(self):
        return [{'ID': 'sid1', 'Spec': {'Name': 's1'}}]

    def configs(self):
        return []

    def tasks(self, filters=None):
        return []

    def __getattr__(self, name):
        if name in ('_post_json', '_post', 'create_service', 'update_service', 'remove_service', '_delete'):
            raise AssertionError('check mode wrote to Docker: %s' % name)
        raise AttributeError(name)


EXISTING = {'ID': 'sv1', 'Version': {'Index': 5}, 'UpdatedAt': '2026-01-01T00:00:00Z', 'Spec': CURRENT}


def engine(services, check_mode=True, **given):
    client = DockerClient(ReadOnlyAPI(services), 'unix:///x.sock', None)
    return svc.ServicesEngine(client, [params(**given)], check_mode=check_mode)


@pytest.mark.parametrize('services, given, actions, changes', [
    ([], dict(image='docknet/probe', networks=[{'name': 'ov'}]), ['create'], None),
    ([EXISTING], dict(env={'A': '1', 'B': '3'}), ['update'], ['env']),
    ([EXISTING], dict(replicas=1, labels={'team': 'b'}), ['update'], ['labels', 'replicas']),
    ([EXISTING], dict(env=['B=2', 'A=1'], image='docknet/probe:latest', endpoint_mode='dnsrr'), [], []),
    ([EXISTING], dict(state='absent'), ['remove'], []),
    ([], dict(state='absent'), [], []),
])
def test_check_mode_plans_without_writing(services, given, actions, changes):
    result = engine(services, **given).run()
    assert result['actions'] == actions
    assert result['changed'] is bool(actions)
    if changes is not None:
        assert result['changes'] == changes


def test_check_mode_diff_shows_networks_by_name():
    result = engine([EXISTING], env={'A': '9'}).run()
    assert result['diff']['before']['TaskTemplate']['Networks'] == [{'Target': 'ov'}]
    assert result['diff']['after']['TaskTemplate']['ContainerSpec']['Env'] == ['A=9']


@pytest.mark.parametrize('given, message', [
    (dict(image='x', networks=[{'name': 'nope'}]), 'network nope does not exist'),
    (dict(image='x', networks=[{'name': 'bridge'}]), 'network bridge is local-scoped'),
    (dict(image='x', networks=[{'name': 'ingress'}]), 'is the ingress network'),
    (dict(image='x', secrets=[{'name': 'nope'}]), 'secret nope does not exist'),
    (dict(networks=[{'name': 'ov'}]), 'image is required'),
])
def test_bad_input_fails_before_any_write(given, message):
    with pytest.raises(FabricError, match=message):
        engine([], check_mode=False, **given).run()


def test_mode_cannot_change():
    with pytest.raises(FabricError, match='cannot change the mode of a service; remove it first'):
        engine([EXISTING], check_mode=False, mode='global').run()


def test_port_taken_fails_before_any_write():
    with pytest.raises(FabricError, match=r'published port 8080/tcp \(service other\) already taken'):
        engine([OTHER], check_mode=False, image='x', ports=[{'target': 80, 'published': 8080}]).run()


def test_rollback_on_failure_needs_wait():
    with pytest.raises(FabricError, match='rollback_on_failure needs wait: true'):
        svc_checks.validate_params(params(rollback_on_failure=True, wait=False))


# --- a failed update, rolled back: the writes and the report ----------------------

class ScriptedAPI(ReadOnlyAPI):
    """Reads answer from a tiny swarm that fails the update and rolls back when asked; writes are recorded."""

    def __init__(self, services):
        super().__init__(services)
        self.posts = []
        self.state = 'before'
        self.new_template = None

    def _url(self, path, *args):
        return path.format(*args)

    def _post_json(self, url, data=None, params=None):
        self.posts.append((url, copy.deepcopy(data), dict(params or {})))
        if (params or {}).get('rollback') == 'previous':
            self.state = 'rolled back'
        else:
            self.state = 'paused'
            self.new_template = data['TaskTemplate']
        return {}

    def _result(self, response, json=False):
        return response

    def services(self):
        return [self.inspect_service('sv1')]

    def inspect_service(self, service_id):
        service = copy.deepcopy(EXISTING)
        if self.state == 'paused':
            service['Spec']['TaskTemplate'] = self.new_template
            service['PreviousSpec'] = copy.deepcopy(EXISTING['Spec'])
            service['UpdateStatus'] = {'State': 'paused', 'Message': 'update paused due to failure of task t1'}
            service['Version'] = {'Index': 6}
        elif self.state == 'rolled back':
            service['UpdateStatus'] = {'State': 'rollback_completed', 'Message': 'rollback completed'}
            service['Version'] = {'Index': 7}
        return service

    def tasks(self, filters=None):
        old = CURRENT['TaskTemplate']
        running = [task(old, 'running', node='n%d' % i, created='2026-01-01T00:00:00Z') for i in (1, 2, 3)]
        if self.state == 'paused':
            return [task(self.new_template, 'failed', desired='shutdown', node='n1', created='2026-01-01T00:01:00Z',
                         err='task: non-zero exit (3)')] + running[1:]
        return running

    def nodes(self):
        return [{'ID': 'n%d' % i, 'Description': {'Hostname': 'node%d' % i}, 'Status': {'State': 'ready'},
                 'Spec': {'Availability': 'active'}} for i in (1, 2, 3)]


@pytest.mark.parametrize('rollback', [False, True])
def test_failed_update_reports_errors_and_rolls_back_when_asked(rollback):
    api = ScriptedAPI([EXISTING])
    engine_ = svc.ServicesEngine(DockerClient(api, 'unix:///x.sock', None),
                                 [params(command=['sh', '-c', 'exit 3'], rollback_on_failure=rollback)],
                                 sleep=lambda seconds: None)
    with pytest.raises(FabricError) as caught:
        engine_.run()
    error = caught.value
    assert 'node1 slot 1: task: non-zero exit (3)' in error.msg
    assert error.details['failed_tasks'][0]['error'] == 'task: non-zero exit (3)'
    assert error.details['rolled_back'] is rollback
    assert api.posts[0][0] == '/services/sv1/update' and api.posts[0][2] == {'version': 5}
    assert api.posts[0][1]['TaskTemplate']['ContainerSpec']['Command'] == ['sh', '-c', 'exit 3']
    assert api.posts[0][1]['Mode'] == CURRENT['Mode']   # partial: the rest is sent as it was
    if rollback:
        assert 'Rolled back to the previous spec' in error.msg
        assert api.posts[1][2] == {'version': 6, 'rollback': 'previous'}
    else:
        assert len(api.posts) == 1 and 'Set rollback_on_failure: true' in error.msg


@pytest.mark.parametrize('given, expected', [
    (None, None),
    ([], []),
    (['front'], [{'name': 'front', 'aliases': None, 'driver_opts': None}]),
    (['front', {'name': 'back', 'aliases': ['api']}],
     [{'name': 'front', 'aliases': None, 'driver_opts': None},
      {'name': 'back', 'aliases': ['api'], 'driver_opts': None}]),
])
def test_network_entries_accept_names_and_dicts(given, expected):
    assert svc_checks.network_entries(given, 'swarm_service web') == expected


@pytest.mark.parametrize('given, message', [
    ([3], 'swarm_service web: networks[0] must be a network name or a dict'),
    ([{'name': 'a', 'alias': ['x']}], 'swarm_service web: networks[0] has unknown keys alias; it takes name, aliases, driver_opts.'),
    (['a', {'name': 'b', 'aliases': 'x'}], 'swarm_service web: networks[1].aliases must be a list of names.'),
    ([{'name': 'b', 'driver_opts': 'x'}], 'swarm_service web: networks[0].driver_opts must be a dict.'),
])
def test_network_entries_reject(given, message):
    with pytest.raises(FabricError) as caught:
        svc_checks.network_entries(given, 'swarm_service web')
    assert caught.value.msg.startswith(message)
