# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The swarm_services role passes every option of swarm_service through (issue 11, point 12).

A role that copies option by option drops the ones it forgets (secrets and
configs were dropped silently). The role hands its list to the module's
``services`` whole; these tests fail if it ever maps keys one by one again
without covering the module's whole argument spec.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ansible_collections.docknet.fabric.plugins.module_utils import _service_args as svc

ROLE = Path(__file__).resolve().parents[3] / 'roles' / 'swarm_services'
MODULE = 'docknet.fabric.swarm_service'


def _tasks(items):
    for task in items or []:
        yield task
        yield from _tasks(task.get('block'))


def _module_task():
    tasks = [t for t in _tasks(yaml.safe_load((ROLE / 'tasks' / 'main.yml').read_text())) if MODULE in t]
    assert len(tasks) == 1, 'the role should call %s once (the list form)' % MODULE
    return tasks[0][MODULE]


def _spec():
    return svc.argument_spec({})


def passed_entry_keys(args, entry_options):
    """Which entry options reach the module: all of them when the list goes whole, else the ones mapped from item."""
    services = args.get('services')
    if isinstance(services, str) and re.fullmatch(r'\{\{\s*swarm_services_list\s*\}\}', services):
        return set(entry_options)
    return set(re.findall(r'item\.(\w+)', yaml.safe_dump(args)))


def test_the_role_passes_every_option_of_an_entry():
    entry_options = _spec()['services']['options']
    assert passed_entry_keys(_module_task(), entry_options) == set(entry_options)


def test_the_roles_own_arguments_are_module_options():
    args = _module_task()
    assert set(args) <= set(_spec()) | {'docker_host'}, set(args) - set(_spec())


def test_an_entry_takes_every_option_of_the_single_form():
    spec = _spec()
    single = set(spec) - {'services'}   # built without the connection options
    assert set(spec['services']['options']) == single
    assert {'secrets', 'configs'} <= set(svc.SERVICE_OPTIONS)


def test_a_key_by_key_copy_that_forgets_options_is_caught():
    args = {'services': [{'name': '{{ item.name }}', 'image': '{{ item.image }}'}]}
    entry_options = _spec()['services']['options']
    assert passed_entry_keys(args, entry_options) == {'name', 'image'} != set(entry_options)
