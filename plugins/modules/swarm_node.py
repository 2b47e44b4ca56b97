#!/usr/bin/python
# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: swarm_node
short_description: Availability, role and labels of a swarm node, or its removal, quorum-safe
version_added: 0.1.0
description:
  - Runs against a swarm manager (O(docker_host)) and changes one node of the swarm, chosen by O(node).
  - Sets the node's availability (V(active), V(pause), V(drain)), its role (promote, demote) and its labels,
    in one update; or, with O(state=absent), drains it, demotes it, waits until it is down or has left and
    removes it.
  - The quorum guard decides before any write, and the same in check mode, from the managers' reachability
    in one node listing. A demotion or removal that would leave the reachable managers without a raft
    majority, or remove the last manager, is refused; the message lists every manager and its
    reachability. A change that leaves an even number of managers is made with a warning.
  - After O(availability=drain) the module waits (up to O(wait_timeout)) until the node runs no more tasks;
    after a promotion or demotion, until raft membership has settled and the swarm has a leader.
extends_documentation_fragment:
  - docknet.fabric.docker
  - docknet.fabric.attributes
  - docknet.fabric.attributes.actiongroup_docker
attributes:
  check_mode:
    support: full
    details:
      - Runs the same listing, selection and quorum guard, and reports the planned actions and the diff.
  diff_mode:
    support: full
options:
  node:
    description:
      - The node to change, by node id (or a unique prefix of at least 5 characters), by address (as in the
        node listing, or its manager address) or by hostname.
      - Hostnames are not unique (cloned machines share one); a hostname shared by several nodes is an error
        that lists them, so select those by id or address.
      - When an address or hostname matches several nodes of which only one is not down (a node that left
        stays listed as down until removed), that one is chosen.
    type: str
    required: true
    version_added: 0.1.0
  state:
    description:
      - V(present) sets what is declared on an existing node; a missing node is an error.
      - V(absent) drains, demotes, waits until the node is down (it left or its engine stopped) and removes it;
        a node that is not there is no change.
    type: str
    choices: [present, absent]
    default: present
    version_added: 0.1.0
  availability:
    description:
      - V(active) takes tasks, V(pause) keeps its tasks but takes no new ones, V(drain) moves its tasks away.
    type: str
    choices: [active, pause, drain]
    version_added: 0.1.0
  role:
    description:
      - V(manager) promotes the node, V(worker) demotes it (guarded by the quorum check).
    type: str
    choices: [manager, worker]
    version_added: 0.1.0
  labels:
    description:
      - Node labels, as a mapping of key to value (V(null) stands for an empty value).
    type: dict
    version_added: 0.1.0
  labels_state:
    description:
      - V(merge) adds and changes the labels of O(labels) and keeps the others.
      - V(replace) makes O(labels) the node's only labels (V({}) removes all).
    type: str
    choices: [merge, replace]
    default: merge
    version_added: 0.1.0
  force:
    description:
      - With O(state=absent), remove the node without waiting for it to go down (C(docker node rm --force)).
        The quorum guard still applies.
    type: bool
    default: false
    version_added: 0.1.0
  wait_timeout:
    description:
      - Seconds to wait for drained tasks to move, raft membership to settle, or the node to go down.
    type: int
    default: 120
    version_added: 0.1.0
author:
  - docknet.fabric maintainers (@docknet)
'''

EXAMPLES = r'''
- name: Drain node 3 (selected by address; hostnames can repeat) before maintenance
  docknet.fabric.swarm_node:
    node: 198.18.0.13
    availability: drain

- name: Promote a worker, selected by id
  docknet.fabric.swarm_node:
    node: "{{ worker_node_id }}"
    role: manager

- name: Add labels, keeping the others
  docknet.fabric.swarm_node:
    node: 198.18.0.12
    labels:
      zone: a
      disk: ssd

- name: Exactly these labels
  docknet.fabric.swarm_node:
    node: 198.18.0.12
    labels: {zone: b}
    labels_state: replace

- name: Take a node out of the swarm (drain, demote, wait until down, remove)
  docknet.fabric.swarm_node:
    node: 198.18.0.13
    state: absent
'''

RETURN = r'''
node:
  description:
    - The node after the task (C(id), C(hostname), C(addr), C(role), C(availability), C(labels)),
      or C(state=absent) when it was removed.
  returned: success
  type: dict
managers:
  description: The managers as listed before the change, with C(hostname), C(id), C(addr),
    C(reachability) and C(leader).
  returned: success
  type: list
  elements: dict
actions:
  description: What was done (or would be done in check mode), in order.
  returned: success
  type: list
  elements: str
  sample: [set availability drain]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    connection_argument_spec,
    run_module,
)
from ansible_collections.docknet.fabric.plugins.module_utils._swarm_node import run_swarm_node


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        node=dict(type='str', required=True),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        availability=dict(type='str', choices=['active', 'pause', 'drain']),
        role=dict(type='str', choices=['manager', 'worker']),
        labels=dict(type='dict'),
        labels_state=dict(type='str', choices=['merge', 'replace'], default='merge'),
        force=dict(type='bool', default=False),
        wait_timeout=dict(type='int', default=120),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, lambda client: run_swarm_node(client, dict(module.params), module.check_mode))


if __name__ == '__main__':
    main()
