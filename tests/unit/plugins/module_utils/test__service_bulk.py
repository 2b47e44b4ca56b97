# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""swarm_service's list form: planning many services, grouping and concurrency of waits, input checks."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils import _service as svc
from ansible_collections.docknet.fabric.plugins.module_utils import _service_args as svc_args
from ansible_collections.docknet.fabric.plugins.module_utils import _service_checks as svc_checks
from ansible_collections.docknet.fabric.plugins.module_utils import _service_tasks as svc_tasks
from ansible_collections.docknet.fabric.plugins.module_utils import _values as values
from ansible_collections.docknet.fabric.plugins.module_utils._client import DockerClient, FabricError


def entry(name, **given):
    out = dict((key, None) for key in svc_args.SERVICE_OPTIONS)
    out.update(name=name, state=None, wait=None, wait_timeout=None, rollback_on_failure=None)
    out.update(given)
    return out


def top(services, **given):
    out = dict((key, None) for key in svc_args.SERVICE_OPTIONS)
    out.update(name=None, state='present', wait=True, wait_timeout=60, rollback_on_failure=False, services=services)
    out.update(given)
    return out


def spec(name, image='docknet/probe:latest', replicas=1, env=None):
    container = {'Image': image}
    if env:
        container['Env'] = env
    return {'Name': name, 'TaskTemplate': {'ContainerSpec': container, 'Networks': [{'Target': 'netid1'}]},
            'Mode': {'Replicated': {'Replicas': replicas}}, 'EndpointSpec': {'Mode': 'dnsrr'}}


def existing(name, **kwargs):
    return {'ID': 'id-' + name, 'Version': {'Index': 3}, 'UpdatedAt': '2026-01-01T00:00:00Z',
            'UpdateStatus': {'State': 'completed'}, 'Spec': spec(name, **kwargs)}


class SwarmDouble:
    """A swarm of services whose tasks converge ``rounds[name]`` task listings after a write.

    Records every write and counts every listing, so tests see how many calls a run makes.
    """

    api_version = '1.41'
    timeout = 5

    def __init__(self, services, rounds=None, refuse=()):
        self._services = dict((s['ID'], copy.deepcopy(s)) for s in services)
        self.rounds = rounds or {}
        self.refuse = set(refuse)
        self.writes = []
        self.calls = {}
        self.left = {}

    def _count(self, what):
        self.calls[what] = self.calls.get(what, 0) + 1

    # reads
    def services(self):
        self._count('services')
        return copy.deepcopy(list(self._services.values()))

    def networks(self):
        self._count('networks')
        return [{'Id': 'netid1', 'Name': 'ov', 'Scope': 'swarm', 'Driver': 'overlay'}]

    def nodes(self):
        self._count('nodes')
        return [{'ID': 'n1', 'Description': {'Hostname': 'node1'}, 'Status': {'State': 'ready'},
                 'Spec': {'Availability': 'active'}}]

    def containers(self, all=False, filters=None):
        self._count('containers')
        return []

    def tasks(self, filters=None):
        self._count('tasks')
        out = []
        for service in self._services.values():
            template = service['Spec']['TaskTemplate']
            left = self.left.get(service['ID'], 0)
            if filters and 'service' in filters and service['ID'] not in filters['service']:
                continue
            if left > 0:
                self.left[service['ID']] = left - 1
                state, created = 'starting', '2026-01-02T00:00:00Z'
            else:
                state, created = 'running', '2026-01-02T00:00:00Z'
            replicas = service['Spec']['Mode']['Replicated']['Replicas']
            out += [{'ID': '%s-%d' % (service['ID'], i), 'ServiceID': service['ID'], 'Spec': copy.deepcopy(template),
                     'NodeID': 'n1', 'Slot': i, 'DesiredState': 'running', 'CreatedAt': created,
                     'Status': {'State': state}} for i in range(replicas)]
        return out

    def inspect_service(self, service_id):
        return copy.deepcopy(self._services[service_id])

    # writes
    def _url(self, path, *args):
        return path.format(*args)

    def _result(self, response, json=False):
        return response

    def _post_json(self, url, data=None, params=None):
        name = data['Name']
        if name in self.refuse:
            from docker.errors import APIError
            raise APIError('refused', explanation='rpc error: name conflicts with an existing object')
        self.writes.append((url, name))
        service_id = 'id-' + name
        if url.endswith('/create'):
            self._services[service_id] = {'ID': service_id, 'Version': {'Index': 1}, 'Spec': copy.deepcopy(data),
                                          'UpdatedAt': '2026-01-01T00:00:01Z'}
        else:
            self._services[service_id].update(Spec=copy.deepcopy(data), UpdateStatus={'State': 'completed'})
        self.left[service_id] = self.rounds.get(name, 0)
        return {'ID': service_id}

    def remove_service(self, service_id):
        self.writes.append(('remove', service_id))
        del self._services[service_id]


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = 0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps += 1
        self.now += seconds


def run(api, params, check_mode=False):
    clock = Clock()
    entries, list_form = svc_args.entries_of(params)
    engine = svc.ServicesEngine(DockerClient(api, 'unix:///x.sock', None), entries, check_mode=check_mode,
                                sleep=clock.sleep, clock=clock, list_form=list_form)
    return engine.run(), clock


EXISTING = [existing('a'), existing('b', env=['X=1']), existing('gone')]


@pytest.mark.parametrize('services, actions, by_service', [
    # nothing to do
    ([entry('a', image='docknet/probe', networks=['ov']), entry('b', env={'X': '1'})], [],
     {'a': 'none', 'b': 'none'}),
    # one update, one create, one removal, one unchanged
    ([entry('a', replicas=2), entry('new', image='docknet/probe', networks=['ov']), entry('gone', state='absent'),
      entry('b')],
     ['update a', 'create new', 'remove gone'], {'a': 'update', 'new': 'create', 'gone': 'remove', 'b': 'none'}),
    # removing what does not exist is nothing
    ([entry('never', state='absent')], [], {'never': 'none'}),
])
def test_planning_many_services(services, actions, by_service):
    for check_mode in (True, False):
        api = SwarmDouble(EXISTING)
        result, dummy = run(api, top(services), check_mode=check_mode)
        assert result['actions'] == actions
        assert result['changed'] is bool(actions)
        assert dict((s['name'], s['action']) for s in result['services']) == by_service
        assert sorted(result['diff']['after']) == sorted(a.split()[1] for a in actions)
        if check_mode:
            assert api.writes == []
        # One listing of services (and of networks, and of running tasks) plans every service.
        assert api.calls['services'] == 1 if check_mode or not actions else api.calls['services'] >= 1
        assert api.calls.get('networks', 0) <= 1


def test_changes_name_options_only():
    api = SwarmDouble(EXISTING)
    result, dummy = run(api, top([entry('a', replicas=2, env={'Y': '2'}),
                                  entry('new', image='docknet/probe', replicas=2)]), check_mode=True)
    changes = dict((s['name'], s['changes']) for s in result['services'])
    assert changes['a'] == ['replicas', 'env']
    assert 'Name' not in changes['new'] and 'name' in changes['new'] and 'replicas' in changes['new']


def test_writes_go_out_before_any_wait_and_waits_run_together():
    """Ten updates whose tasks take 1..10 rounds: the task waits ~10 rounds, not 55, two listings a round."""
    services = [existing('s%d' % i) for i in range(10)]
    api = SwarmDouble(services, rounds=dict(('s%d' % i, i + 1) for i in range(10)))
    result, clock = run(api, top([entry('s%d' % i, replicas=2) for i in range(10)]))
    assert [w[1] for w in api.writes] == ['s%d' % i for i in range(10)]
    assert all(s['converged'] for s in result['services'])
    assert clock.sleeps <= 11, clock.sleeps
    # the planning listing, then one listing of services and one of tasks per round
    assert api.calls['services'] == clock.sleeps + 2
    assert api.calls['tasks'] == clock.sleeps + 2
    assert api.calls['nodes'] == 1


def test_removals_are_sent_first_then_updates_then_creates():
    api = SwarmDouble(EXISTING)
    run(api, top([entry('new', image='docknet/probe'), entry('a', replicas=3), entry('gone', state='absent')],
                 wait=False))
    assert [w[0] for w in api.writes] == ['remove', '/services/id-a/update', '/services/create']


def test_a_refused_write_names_the_service_reports_the_done_and_leaves_the_rest():
    api = SwarmDouble(EXISTING, refuse={'b'})
    with pytest.raises(FabricError) as caught:
        run(api, top([entry('a', replicas=2), entry('b', replicas=2), entry('c', image='docknet/probe')]))
    error = caught.value
    assert error.msg.startswith('swarm_service b: updating service b: the Docker daemon answered: rpc error')
    assert 'Done: a (update).' in error.msg and 'Not touched: c.' in error.msg
    assert error.details['changed'] is True and error.details['actions'] == ['update a']
    states = dict((s['name'], s) for s in error.details['services'])
    assert states['a']['converged'] is True
    assert states['c']['untouched'] is True and states['b']['untouched'] is True
    assert [w[1] for w in api.writes] == ['a']


def test_a_port_released_by_one_service_of_the_task_can_be_taken_by_another():
    holder = existing('a')
    holder['Spec']['EndpointSpec'] = {'Mode': 'vip', 'Ports': [{'TargetPort': 80, 'PublishedPort': 8080}]}
    api = SwarmDouble([holder])
    result, dummy = run(api, top([entry('a', state='absent'),
                                  entry('web', image='x', ports=[{'target': 80, 'published': 8080}])]),
                        check_mode=True)
    assert result['actions'] == ['remove a', 'create web']
    with pytest.raises(FabricError, match=r'swarm_service web: published port 8080/tcp \(service a\) already taken'):
        run(SwarmDouble([holder]), top([entry('web', image='x', ports=[{'target': 80, 'published': 8080}])]),
            check_mode=True)
    with pytest.raises(FabricError, match=r'swarm_service x: published port 9090/tcp \(service y\) already taken'):
        run(SwarmDouble([]), top([entry('x', image='x', ports=[{'target': 80, 'published': 9090}]),
                                  entry('y', image='x', ports=[{'target': 81, 'published': 9090}])]),
            check_mode=True)


@pytest.mark.parametrize('plans, groups', [
    ([], {}),
    ([{'name': 'a', 'action': 'update', 'wait': 'converge', 'sent': True},
      {'name': 'b', 'action': 'create', 'wait': 'converge', 'sent': True},
      {'name': 'c', 'action': 'remove', 'wait': 'removal', 'sent': True}],
     {'converge': ['a', 'b'], 'removal': ['c']}),
    # not sent (refused, or after a refusal), no wait asked, nothing to wait for
    ([{'name': 'a', 'action': 'update', 'wait': 'converge'},
      {'name': 'b', 'action': 'create', 'wait': None, 'sent': True},
      {'name': 'c', 'action': 'none', 'wait': None}],
     {}),
    # unchanged, but an update is under way
    ([{'name': 'a', 'action': 'none', 'wait': 'in progress'}], {'in progress': ['a']}),
])
def test_group_waits(plans, groups):
    assert svc_tasks.group_waits(plans) == groups


TEMPLATE = {'ContainerSpec': {'Image': 'a'}}
OLD = {'ContainerSpec': {'Image': 'a', 'Env': ['X=1']}}


@pytest.mark.parametrize('state, task_specs, why', [
    ('completed', [TEMPLATE, TEMPLATE], ''),
    (None, [TEMPLATE], ''),
    ('updating', [TEMPLATE], 'update in progress'),
    ('rollback_started', [OLD], 'rollback in progress'),
    ('completed', [TEMPLATE, OLD], 'tasks still run an older spec'),   # an update cut short
    ('rollback_completed', [TEMPLATE], ''),
])
def test_update_in_progress(state, task_specs, why):
    service = {'Spec': {'TaskTemplate': TEMPLATE}}
    if state:
        service['UpdateStatus'] = {'State': state}
    tasks = [{'Spec': s, 'DesiredState': 'running'} for s in task_specs]
    assert svc_tasks.update_in_progress(service, tasks) == why


def test_an_unchanged_service_under_update_is_waited_for_and_reported():
    service = existing('a')
    service['UpdateStatus'] = {'State': 'updating'}
    api = SwarmDouble([service])
    api.left['id-a'] = 0

    def finish(seconds, clock=None):
        api._services['id-a']['UpdateStatus'] = {'State': 'completed'}

    clock = Clock()
    engine = svc.ServicesEngine(DockerClient(api, 'unix:///x.sock', None),
                                svc_args.entries_of(top([entry('a', replicas=1)]))[0], sleep=finish, clock=clock,
                                list_form=True)
    result = engine.run()
    assert result['changed'] is False
    assert result['services'] == [{'name': 'a', 'action': 'none', 'changes': [], 'in_progress': 'update in progress',
                                   'converged': True}]


@pytest.mark.parametrize('given, message', [
    (dict(name=''), 'swarm_service: name is empty; give the service a name'),
    (dict(name='   '), 'swarm_service: name is empty'),
    (dict(name=' web'), 'leading or trailing spaces'),
    (dict(state='absent', name=''), 'swarm_service: name is empty'),
    (dict(env={'A': {'b': 1}}), 'swarm_service web: env A: a dict is not a value'),
    (dict(env={'A': [1, 2]}), 'swarm_service web: env A: a list is not a value'),
    (dict(wait_timeout=0), 'swarm_service web: wait_timeout must be a number of seconds above 0, not 0'),
    (dict(wait_timeout=-5), 'wait_timeout must be a number of seconds above 0, not -5'),
    (dict(state='absent', wait_timeout=-1), 'wait_timeout must be a number of seconds above 0'),
])
def test_input_checks(given, message):
    params = dict(entry('web', state='present', wait=True, wait_timeout=60, rollback_on_failure=False), **given)
    with pytest.raises(FabricError) as caught:
        svc_checks.validate_params(params)
    assert caught.value.msg.startswith(message) or message in caught.value.msg, caught.value.msg
    assert '\n' not in caught.value.msg


@pytest.mark.parametrize('value', [-1, -0.5])
def test_negative_durations_are_refused(value):
    with pytest.raises(FabricError, match='stop_grace_period: .* is negative'):
        values.parse_duration(value, 'stop_grace_period')


@pytest.mark.parametrize('params, message', [
    (top([entry('a')], image='x'), 'with services, give image inside each entry'),
    (top([entry('a')], name='a'), 'with services, give name inside each entry'),
    (top([entry('a'), entry('a')]), 'services lists a twice'),
])
def test_list_form_refusals(params, message):
    with pytest.raises(FabricError, match=message):
        svc_args.entries_of(params)


def test_entries_inherit_the_top_level_defaults():
    entries, list_form = svc_args.entries_of(top([entry('a'), entry('b', state='absent', wait_timeout=5)], wait_timeout=30,
                                                 rollback_on_failure=True))
    assert list_form is True
    assert [(e['state'], e['wait'], e['wait_timeout'], e['rollback_on_failure']) for e in entries] == [
        ('present', True, 30, True), ('absent', True, 5, True)]


def test_bad_input_in_any_entry_fails_before_the_first_write():
    api = SwarmDouble(EXISTING)
    with pytest.raises(FabricError, match='swarm_service z: network nope does not exist'):
        run(api, top([entry('a', replicas=5), entry('z', image='x', networks=['nope'])]))
    assert api.writes == []
