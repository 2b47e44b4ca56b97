# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role passes every option of every module it calls, or says here why not.

The test finds every ``docknet.fabric.<module>`` task in ``roles/*/tasks/*.yml`` (blocks
included) and reads each module's argument spec. For every option the task must:
- pass it from the user's input: ``item.<option>``, a role variable ``<role>_..._<option>``
  (or its internal ``_<role>_...``), or a field ``.<option>`` of an internal variable; or
- pass a whole list (``networks``, ``services``) unfiltered, or through a filter proven to keep
  every suboption: then every option of an entry (the same as the single form's) is passed; or
- have a row in ``NOT_PASSED`` saying why not.
A new task, or an option a module gains, fails here until the role passes it on or the table
says why (the bug this prevents: swarm_networks' attachments silently dropped ``mac_address``).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.docknet.fabric.plugins.module_utils._client import connection_argument_spec
from ansible_collections.docknet.fabric.plugins.module_utils._role_networks import ROLE_KEYS, SET_BY_SPLIT, part_of

ROLES = Path(__file__).resolve().parents[3] / 'roles'
CONNECTION = set(connection_argument_spec())
# The connection options come from module_defaults for group/docknet.fabric.docker: each role sets
# docker_host there (from <role>_docker_host) or on the task; TLS, timeout and API version are merged
# from the play's own module_defaults for the same group, so no role repeats them.

# A list option passed whole: the value is exactly this role variable.
WHOLE = {
    ('swarm_networks', 'overlay_network', 'networks'): 'swarm_networks_overlay',
    ('swarm_networks', 'bridge_network', 'networks'): 'swarm_networks_bridge',
    ('swarm_services', 'swarm_service', 'services'): 'swarm_services_list',
}
# A list option passed through a filter: the filter's output (a variable) used only as these parts, with no
# filter of its own; the filter's test below proves it keeps every suboption.
FILTERED = {
    ('swarm_networks', 'macvlan_network', 'networks'): ('_swarm_networks_macvlan', ('local', 'config_only', 'config_from')),
}

_SEED_ONLY = 'a swarm-wide setting: set on the seed manager (bootstrap.yml), a join takes none'
_FIXED_PRUNE = 'pruning: the role drains, demotes and removes a node no longer in the groups'

# (role, task file, module) -> {option: why the role does not pass it from its input}
NOT_PASSED = {
    ('swarm_cluster', 'bootstrap.yml', 'swarm'): {
        'state': 'the role decides: present on the seed manager',
        'advertise_addr': 'the seed host\'s swarm_cluster_advertise_addr (the plan picks the seed)',
        'listen_addr': 'built from the advertise address and swarm_cluster_listen_port',
        'remote_addrs': 'join.yml: from the live plan',
        'join_token': 'join.yml: read from the seed manager',
        'role': 'join.yml: from the inventory groups',
        'force': 'never: the role does not force a swarm to leave',
        'unlock_key': 'a locked manager is unlocked with the swarm module, not by the role',
        'return_secrets': 'the role reads join tokens without printing them',
        'rotate_manager_token': 'a one-off operation, not a state of the cluster',
        'rotate_worker_token': 'a one-off operation, not a state of the cluster',
        'rotate_unlock_key': 'a one-off operation, not a state of the cluster',
        'autolock': 'not offered yet: autolock needs unlock handling on every restart',
        'data_path_addr': 'per host; not offered yet',
        'keep_old_snapshots': 'raft tuning, not offered yet',
        'snapshot_interval': 'raft tuning, not offered yet',
        'log_entries_for_slow_followers': 'raft tuning, not offered yet',
    },
    ('swarm_cluster', 'join.yml', 'swarm'): {
        'state': 'the role decides: join',
        'role': 'from the inventory groups, through the live plan',
        'join_token': 'read from the seed manager (bootstrap.yml)',
        'listen_addr': 'built from swarm_cluster_advertise_addr and swarm_cluster_listen_port',
        'default_addr_pool': _SEED_ONLY, 'subnet_size': _SEED_ONLY, 'data_path_port': _SEED_ONLY,
        'task_history_limit': _SEED_ONLY, 'dispatcher_heartbeat': _SEED_ONLY, 'cert_expiry': _SEED_ONLY,
        'autolock': _SEED_ONLY + '; not offered yet', 'keep_old_snapshots': _SEED_ONLY + '; not offered yet',
        'snapshot_interval': _SEED_ONLY + '; not offered yet',
        'log_entries_for_slow_followers': _SEED_ONLY + '; not offered yet',
        'rotate_manager_token': 'a one-off operation on a manager, not a join',
        'rotate_worker_token': 'a one-off operation on a manager, not a join',
        'rotate_unlock_key': 'a one-off operation on a manager, not a join',
        'unlock_key': 'a locked manager is unlocked with the swarm module, not by the role',
        'return_secrets': 'a join returns no secrets the role needs',
        'force': 'never: the role does not force a node out of another swarm',
        'data_path_addr': 'per host; not offered yet',
    },
    ('swarm_cluster', 'nodes.yml', 'swarm_node'): {
        'node': "the host's advertise address (swarm_cluster_advertise_addr), which names its node",
        'role': 'the inventory group: one task promotes the managers, the other demotes the workers',
        'availability': 'not offered: nodes_to_set (plugins/module_utils/_role_logic.py) compares role and labels only',
        'state': 'present: a node is removed only by pruning (prune_node.yml)',
        'force': 'only for removal (prune_node.yml)',
    },
    ('swarm_cluster', 'prune_node.yml', 'swarm_node'): {
        'availability': _FIXED_PRUNE + ' (drain)', 'role': _FIXED_PRUNE + ' (worker)',
        'state': _FIXED_PRUNE + ' (absent)', 'force': 'swarm_cluster_prune_force, for a node that cannot leave itself',
        'labels': 'a node being removed keeps its labels', 'labels_state': 'a node being removed keeps its labels',
    },
    ('swarm_cluster', 'prune_node.yml', 'swarm'): {
        'state': _FIXED_PRUNE + ' (the node leaves: absent)',
        'advertise_addr': 'leaving takes no address', 'listen_addr': 'leaving takes no address',
        'data_path_addr': 'leaving takes no address', 'remote_addrs': 'leaving takes no address',
        'join_token': 'leaving takes no token', 'role': 'leaving takes no role',
        'force': 'never: a node that is the last manager is not forced out',
        'unlock_key': 'leaving takes no unlock key', 'return_secrets': 'leaving returns no secrets',
        'rotate_manager_token': 'not when leaving', 'rotate_worker_token': 'not when leaving',
        'rotate_unlock_key': 'not when leaving',
        'default_addr_pool': 'leaving takes no settings', 'subnet_size': 'leaving takes no settings',
        'data_path_port': 'leaving takes no settings', 'task_history_limit': 'leaving takes no settings',
        'dispatcher_heartbeat': 'leaving takes no settings', 'cert_expiry': 'leaving takes no settings',
        'autolock': 'leaving takes no settings', 'keep_old_snapshots': 'leaving takes no settings',
        'snapshot_interval': 'leaving takes no settings', 'log_entries_for_slow_followers': 'leaving takes no settings',
    },
    ('swarm_cluster', 'prune.yml', 'swarm_info'): {},
    ('swarm_cluster', 'state.yml', 'swarm_info'): {},
    ('swarm_cluster', 'converge.yml', 'swarm_info'): {},
    ('swarm_networks', 'main.yml', 'overlay_network'): {},
    ('swarm_networks', 'local.yml', 'bridge_network'): {},
    ('swarm_networks', 'local.yml', 'macvlan_network'): {
        'purge': 'only the manager\'s task purges: its list holds the swarm-wide networks too, so purge keeps them',
    },
    ('swarm_networks', 'manager.yml', 'swarm_info'): {},
    ('swarm_networks', 'attach.yml', 'network_info'): {
        'name': 'reads every network: in check mode, attachments to networks not made yet are skipped',
        'driver': 'reads every network: in check mode, attachments to networks not made yet are skipped',
        'label': 'reads every network: in check mode, attachments to networks not made yet are skipped',
    },
    ('swarm_networks', 'attach.yml', 'network_attachment'): {},
    ('swarm_policy', 'main.yml', 'network_policy'): {},
    ('swarm_policy', 'verify.yml', 'network_policy'): {
        'state': 'a check-mode read of the expected matrix: present, nothing changes',
        'wait_timeout': 'a check-mode read: nothing is waited for',
    },
    ('swarm_policy', 'verify.yml', 'network_probe'): {
        'targets': "built from the policy's matrix: every other member, expected reachable or not",
        'fail_on_unexpected': 'false: the role prints the whole matrix first, then fails on any unexpected cell',
        'spread': 'a load-spread count, not a reachability proof',
    },
    ('swarm_policy', 'manager.yml', 'swarm_info'): {},
    ('swarm_services', 'manager.yml', 'swarm_info'): {},
    ('swarm_services', 'main.yml', 'swarm_service'): {},
}


def _walk(tasks):
    for task in tasks or []:
        yield task
        for key in ('block', 'rescue', 'always'):
            yield from _walk(task.get(key))


def module_tasks():
    """(role, task file, module, task name, args) of every docknet.fabric module task of every role."""
    found = []
    for path in sorted(ROLES.glob('*/tasks/*.yml')):
        for task in _walk(yaml.safe_load(path.read_text(encoding='utf-8'))):
            for key, args in task.items():
                if key.startswith('docknet.fabric.'):
                    found.append((path.parents[1].name, path.name, key.split('.', 2)[2], task.get('name', ''), args or {}))
    return found


TASKS = module_tasks()


class _Captured(Exception):
    pass


def argument_spec(module):
    """The argument spec a module builds in main(), captured before AnsibleModule parses anything."""
    mod = importlib.import_module('ansible_collections.docknet.fabric.plugins.modules.%s' % module)
    captured = {}

    def capture(argument_spec, **kwargs):
        captured.update(argument_spec)
        raise _Captured()

    real = mod.AnsibleModule
    mod.AnsibleModule = capture
    try:
        mod.main()
    except _Captured:
        pass
    finally:
        mod.AnsibleModule = real
    assert captured, '%s: main() built no AnsibleModule' % module
    return captured


def passes_from_input(role, option, value):
    """Whether a task's value hands the user's input for ``option`` on (see the module docstring)."""
    # A collection filter named like a role variable (docknet.fabric.swarm_policy_targets) is not one.
    text = re.sub(r'docknet\.fabric\.\w+', '', str(value))
    return bool(re.search(r'\bitem\.%s\b' % option, text)
                or re.search(r'\b_?%s_(\w+_)?%s\b' % (role, option), text)
                or re.search(r'\b_?%s_\w+\.%s\b' % (role, option), text))


def test_every_module_task_of_every_role_has_a_row():
    found = {(role, task_file, module) for role, task_file, module, _name, _args in TASKS}
    assert found - set(NOT_PASSED) == set(), 'add a NOT_PASSED row (with {} when the role passes everything)'
    assert set(NOT_PASSED) - found == set(), 'no such task any more: remove the row'


def test_the_walk_finds_tasks_in_blocks():
    """The roles' main tasks sit in blocks (module_defaults): missing them would test nothing."""
    assert ('swarm_services', 'main.yml', 'swarm_service') in {t[:3] for t in TASKS}
    assert ('swarm_networks', 'main.yml', 'overlay_network') in {t[:3] for t in TASKS}


def passes_list(role, module, option, value):
    """None: not a list of WHOLE or FILTERED; else whether the value passes it as the table says."""
    text = str(value).strip()
    if (role, module, option) in WHOLE:
        return bool(re.fullmatch(r'\{\{\s*%s\s*\}\}' % WHOLE[(role, module, option)], text))
    if (role, module, option) in FILTERED:
        variable, parts = FILTERED[(role, module, option)]
        used = re.findall(r'\b%s\b(\.\w+)?(\s*\|)?' % variable, text)
        return bool(used) and all(part[1:] in parts and not pipe for part, pipe in used)
    return None


def entry_options(spec, option):
    return set(spec[option].get('options') or {})


@pytest.mark.parametrize('role, task_file, module, name, args', TASKS,
                         ids=['%s/%s/%s:%s' % (t[0], t[1], t[2], t[3]) for t in TASKS])
def test_role_passes_every_module_option(role, task_file, module, name, args):
    spec = argument_spec(module)
    options = set(spec) - CONNECTION
    not_passed = NOT_PASSED.get((role, task_file, module), {})
    unknown = set(not_passed) - options
    assert not unknown, 'no such option of %s (remove from the table): %s' % (module, sorted(unknown))
    passed = set()
    for option, value in args.items():
        if option in CONNECTION:
            continue
        assert option in options, '%s passes %s, which %s does not have' % (role, option, module)
        whole_list = passes_list(role, module, option, value)
        if whole_list is not None:
            assert whole_list, '%s: %s must be passed unfiltered, as %s says' % (
                name, option, 'WHOLE' if (role, module, option) in WHOLE else 'FILTERED')
            # An entry takes the options of the single form: each is passed with the entry.
            passed |= {option} | entry_options(spec, option)
            continue
        if option in not_passed:
            continue
        assert passes_from_input(role, option, value), '%s (%s/%s): %s is not passed from the role\'s input: %r' % (
            name, role, task_file, option, value)
        passed.add(option)
    missing = options - passed - set(not_passed)
    assert not missing, '%s (%s/%s) does not pass these %s options on: %s' % (
        name, role, task_file, module, sorted(missing))


@pytest.mark.parametrize('row', sorted(NOT_PASSED), ids=['/'.join(row) for row in sorted(NOT_PASSED)])
def test_no_stale_reason(row):
    """A reason for an option every task of the row passes from the input is out of date."""
    role, task_file, module = row
    args = [a for r, f, m, _n, a in TASKS if (r, f, m) == row]
    stale = [o for o in NOT_PASSED[row]
             if args and all(o in a and passes_from_input(role, o, a[o]) for a in args)]
    assert not stale, '%s: these are passed now, remove their reason: %s' % (row, stale)


def test_the_macvlan_filter_keeps_every_suboption():
    """FILTERED: swarm_macvlan_split passes local entries whole and routes each option of a swarm-wide one."""
    element = argument_spec('macvlan_network')['networks']['options']
    assert not set(element) & set(ROLE_KEYS), 'a module option would be taken for a role key'
    dropped = [o for o in element if o not in SET_BY_SPLIT and not part_of(o)]
    assert not dropped, 'swarm_macvlan_split drops %s' % dropped


def test_a_key_by_key_copy_that_forgets_options_is_caught():
    args = {'network': '{{ item.network }}', 'state': "{{ item.state | default('present') }}"}
    spec = argument_spec('network_attachment')
    passed = {o for o, v in args.items() if passes_from_input('swarm_networks', o, v)}
    assert passed == {'network', 'state'} and set(spec) - CONNECTION - passed


@pytest.mark.parametrize('module, value, ok', [
    ('bridge_network', '{{ swarm_networks_bridge }}', True),
    ('bridge_network', "{{ swarm_networks_bridge | rejectattr('internal') }}", False),
    ('bridge_network', '{{ swarm_networks_bridge | map(attribute="name") }}', False),
    ('macvlan_network', '{{ _swarm_networks_macvlan.local + _swarm_networks_macvlan.config_only }}', True),
    ('macvlan_network', "{{ _swarm_networks_macvlan.local | selectattr('parent') }}", False),
    ('macvlan_network', '{{ _swarm_networks_macvlan }}', False),
    ('macvlan_network', '{{ swarm_networks_macvlan }}', False),
])
def test_a_filtered_list_is_caught(module, value, ok):
    assert passes_list('swarm_networks', module, 'networks', value) is ok
