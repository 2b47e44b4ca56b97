#!/usr/bin/python
# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: swarm
short_description: Initialise, join, update, unlock or leave a Docker swarm, on the node it changes
version_added: 0.1.0
description:
  - Runs against the Docker engine of the node it changes (O(docker_host)).
  - O(state=present) initialises a swarm on a node that is in none; on a manager it compares the settings
    you declared with the live swarm and updates those that differ, and rotates join tokens or the unlock
    key when asked.
  - O(state=join) joins the node to the swarm of O(remote_addrs) with O(join_token). A node already in that
    swarm is left as it is; a node of another swarm is an error, never moved silently.
  - O(state=absent) leaves the swarm. A manager is first demoted (raft membership shrinks cleanly), and a
    leave that would lose the last manager or the raft majority is refused unless O(force=true).
  - A manager of an autolocked swarm is locked after its dockerd restarts; it is unlocked only with
    O(unlock_key).
  - Join tokens and the unlock key are returned (on a manager) for later tasks through C(register), and
    never shown, at any verbosity, nor put into a diff or a message. A result that carries them is hidden
    from the output as with C(no_log) (only C(changed) shows); read what you need from the registered
    variable, or set O(return_secrets=false) to see the whole result.
  - Node labels cannot be given when joining (the Docker join request has none); set them with
    M(docknet.fabric.swarm_node) on a manager.
extends_documentation_fragment:
  - docknet.fabric.docker
  - docknet.fabric.attributes
  - docknet.fabric.attributes.actiongroup_docker
attributes:
  check_mode:
    support: full
    details:
      - Reads the live state and reports the planned actions, C(changed) and the diff without writing.
  diff_mode:
    support: full
    details:
      - The diff shows the node's swarm state, role and swarm settings; never a secret.
options:
  state:
    description:
      - V(present) initialises a swarm (node in none) or brings a manager's swarm settings to those declared.
      - V(join) joins the swarm at O(remote_addrs), as O(role).
      - V(absent) leaves the swarm.
    type: str
    choices: [present, join, absent]
    default: present
    version_added: 0.1.0
  role:
    description:
      - With O(state=join), the role the node must have. The O(join_token) decides the role Docker gives; this
        option is what the module checks on a node that is already a member.
    type: str
    choices: [manager, worker]
    default: worker
    version_added: 0.1.0
  remote_addrs:
    description:
      - With O(state=join), addresses (V(host) or V(host:port), port 2377 when left out) of managers of the
        swarm to join. A node already in a swarm is in the same swarm when one of these is among its managers.
    type: list
    elements: str
    version_added: 0.1.0
  join_token:
    description:
      - With O(state=join), the worker or manager join token (C(join_tokens.worker) or
        C(join_tokens.manager) registered from this module on a manager).
    type: str
    version_added: 0.1.0
  advertise_addr:
    description:
      - Address (V(ip), V(ip:port) or V(interface)) other nodes reach this node at, when it inits or joins.
      - Fixed at init for a manager; a different IP on a live swarm is an error that asks for re-initialisation.
    type: str
    version_added: 0.1.0
  listen_addr:
    description:
      - Address the node listens on for swarm traffic when it inits or joins. Docker does not report it
        back, so it is not compared on a live swarm.
      - Defaults to V(0.0.0.0:2377).
    type: str
    version_added: 0.1.0
  data_path_addr:
    description:
      - Address or interface for data-path (VXLAN) traffic when the node inits or joins. Not compared on a
        live swarm.
    type: str
    version_added: 0.1.0
  data_path_port:
    description:
      - UDP port of data-path (VXLAN) traffic, 1024 to 49151; Docker uses 4789 when not set. Fixed at init.
    type: int
    version_added: 0.1.0
  default_addr_pool:
    description:
      - CIDR pools that swarm-scope networks take their subnets from. Fixed at init.
    type: list
    elements: str
    version_added: 0.1.0
  subnet_size:
    description:
      - Prefix length of the subnets taken from O(default_addr_pool). Fixed at init.
    type: int
    version_added: 0.1.0
  autolock:
    description:
      - Whether managers lock their raft keys with an unlock key, needed after every dockerd restart.
    type: bool
    version_added: 0.1.0
  cert_expiry:
    description:
      - Validity of node certificates, as a duration like V(90d), V(2160h) or V(1h30m).
    type: str
    version_added: 0.1.0
  task_history_limit:
    description:
      - Number of old tasks kept per service slot.
    type: int
    version_added: 0.1.0
  dispatcher_heartbeat:
    description:
      - How often nodes report to the managers, as a duration like V(5s).
    type: str
    version_added: 0.1.0
  snapshot_interval:
    description:
      - Raft log entries between snapshots.
    type: int
    version_added: 0.1.0
  keep_old_snapshots:
    description:
      - Raft snapshots kept besides the current one.
    type: int
    version_added: 0.1.0
  log_entries_for_slow_followers:
    description:
      - Raft log entries kept after a snapshot for slow followers.
    type: int
    version_added: 0.1.0
  rotate_worker_token:
    description:
      - Rotate the worker join token. A change every time it is set to V(true); leave it out otherwise.
    type: bool
    default: false
    version_added: 0.1.0
  rotate_manager_token:
    description:
      - Rotate the manager join token. A change every time it is set to V(true).
    type: bool
    default: false
    version_added: 0.1.0
  rotate_unlock_key:
    description:
      - Rotate the unlock key of an autolocked swarm. A change every time it is set to V(true).
    type: bool
    default: false
    version_added: 0.1.0
  unlock_key:
    description:
      - The unlock key (C(unlock_key) registered from this module) that unlocks a locked manager.
    type: str
    version_added: 0.1.0
  force:
    description:
      - With O(state=absent), leave even when the node is the last manager (the swarm is lost) or its leave
        breaks the raft majority, and leave a node that is locked, pending or in error.
    type: bool
    default: false
    version_added: 0.1.0
  return_secrets:
    description:
      - Return C(join_tokens) and C(unlock_key) on a manager. The result is then hidden from the output.
      - Set to V(false) to get the result without secrets, shown in full with its diff.
    type: bool
    default: true
    version_added: 0.1.0
  wait_timeout:
    description:
      - Seconds to wait for a state change to settle (a joined manager becoming reachable, an unlocked node
        becoming active, a demoted node becoming a worker before it leaves).
    type: int
    default: 120
    version_added: 0.1.0
author:
  - docknet.fabric maintainers (@docknet)
'''

EXAMPLES = r'''
- name: First manager initialises the swarm
  docknet.fabric.swarm:
    state: present
    advertise_addr: "{{ advertise_addr }}"
    default_addr_pool: [10.20.0.0/16]
    subnet_size: 24
    task_history_limit: 3
  register: swarm_init

- name: Workers join with the registered token
  docknet.fabric.swarm:
    state: join
    role: worker
    advertise_addr: "{{ advertise_addr }}"
    remote_addrs: ["{{ hostvars[groups['managers'][0]].advertise_addr }}"]
    join_token: "{{ hostvars[groups['managers'][0]].swarm_init.join_tokens.worker }}"
  when: inventory_hostname in groups['workers']

- name: Turn on autolock and keep the key (never shown)
  docknet.fabric.swarm:
    autolock: true
  register: swarm_locked

- name: Unlock a manager after its dockerd restarted
  docknet.fabric.swarm:
    unlock_key: "{{ swarm_locked.unlock_key }}"

- name: Rotate the worker token
  docknet.fabric.swarm:
    rotate_worker_token: true

- name: Leave (a manager is demoted first; the last manager is refused without force)
  docknet.fabric.swarm:
    state: absent
'''

RETURN = r'''
swarm_state:
  description: The node's swarm state after the task (V(inactive), V(active), V(locked), ...).
  returned: success
  type: str
  sample: active
swarm_id:
  description: Id of the swarm; known on managers only.
  returned: success
  type: str
node_id:
  description: Id of the node in the swarm.
  returned: success
  type: str
node_role:
  description: V(manager), V(worker), or null when the node is in no swarm.
  returned: success
  type: str
node_addr:
  description: The address the node is known at in the swarm.
  returned: success
  type: str
manager_addresses:
  description: Addresses (V(ip:port)) of the swarm's managers as the node knows them.
  returned: success
  type: list
  elements: str
settings:
  description: The live changeable settings (autolock, cert_expiry, task_history_limit, dispatcher_heartbeat,
    snapshot_interval, keep_old_snapshots, log_entries_for_slow_followers).
  returned: on a manager
  type: dict
join_tokens:
  description:
    - C(worker) and C(manager) join tokens. Hidden from all output; use them through C(register).
    - A token equal to this task's own O(join_token) comes back masked (Ansible masks the values of no_log
      options in results); read the tokens from a manager's C(state=present) task instead.
  returned: on a manager, unless O(return_secrets=false)
  type: dict
unlock_key:
  description:
    - The unlock key of an autolocked swarm, null when autolock is off. Hidden from all output.
    - Masked when it equals this task's own O(unlock_key), which you already have.
  returned: on a manager, unless O(return_secrets=false)
  type: str
actions:
  description: What was done (or would be done in check mode), in order.
  returned: success
  type: list
  elements: str
  sample: [init]
changed_settings:
  description: The settings that were (or would be) updated.
  returned: when settings change
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    connection_argument_spec,
    run_module,
)
from ansible_collections.docknet.fabric.plugins.module_utils._swarm import run_swarm


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        state=dict(type='str', choices=['present', 'join', 'absent'], default='present'),
        role=dict(type='str', choices=['manager', 'worker'], default='worker'),
        remote_addrs=dict(type='list', elements='str'),
        join_token=dict(type='str', no_log=True),
        advertise_addr=dict(type='str'),
        listen_addr=dict(type='str'),
        data_path_addr=dict(type='str'),
        data_path_port=dict(type='int'),
        default_addr_pool=dict(type='list', elements='str'),
        subnet_size=dict(type='int'),
        autolock=dict(type='bool'),
        cert_expiry=dict(type='str'),
        task_history_limit=dict(type='int'),
        dispatcher_heartbeat=dict(type='str'),
        snapshot_interval=dict(type='int'),
        keep_old_snapshots=dict(type='int'),
        log_entries_for_slow_followers=dict(type='int'),
        rotate_worker_token=dict(type='bool', default=False, no_log=False),
        rotate_manager_token=dict(type='bool', default=False, no_log=False),
        rotate_unlock_key=dict(type='bool', default=False, no_log=False),
        unlock_key=dict(type='str', no_log=True),
        force=dict(type='bool', default=False),
        return_secrets=dict(type='bool', default=True, no_log=False),
        wait_timeout=dict(type='int', default=120),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[('state', 'join', ['remote_addrs', 'join_token'])],
    )
    run_module(module, lambda client: run_swarm(client, dict(module.params), module.check_mode))


if __name__ == '__main__':
    main()
