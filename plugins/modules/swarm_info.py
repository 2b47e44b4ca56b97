#!/usr/bin/python
# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: swarm_info
short_description: A Docker node's swarm membership and, on a manager, the swarm's nodes
version_added: 0.1.0
description:
  - Reads whether the node of O(docker_host) is in a swarm (and in what state), which managers it
    knows, and, when it is a manager, every node of the swarm with its role, availability, state,
    address, labels and raft status.
  - Roles decide from this live state, for example whether a swarm already exists before
    initialising one.
  - Never returns join tokens or the unlock key; M(docknet.fabric.swarm) returns those, hidden.
extends_documentation_fragment:
  - docknet.fabric.docker
  - docknet.fabric.attributes
  - docknet.fabric.attributes.actiongroup_docker
  - docknet.fabric.attributes.info_module
options: {}
author:
  - docknet.fabric maintainers (@docknet)
'''

EXAMPLES = r'''
- name: Which nodes are already in a swarm
  docknet.fabric.swarm_info:
    docker_host: "{{ docker_host }}"
  register: membership

- name: The swarm's managers and their reachability, from one manager
  ansible.builtin.debug:
    msg: "{{ membership.nodes | selectattr('role', 'equalto', 'manager') | map(attribute='addr') }}"
  when: membership.is_manager
'''

RETURN = r'''
local_node_state:
  description: The node's swarm state.
  returned: success
  type: str
  sample: active
  choices: [inactive, pending, active, locked, error]
node_id: {description: "The node's swarm id, or null outside a swarm.", returned: success, type: str}
node_addr: {description: The address the node advertises to the swarm., returned: success, type: str, sample: 198.18.0.11}
is_manager: {description: Whether the node is a reachable manager (its control plane answers)., returned: success, type: bool}
cluster_id: {description: The swarm's id; known on managers only., returned: success, type: str}
remote_managers:
  description: The managers the node knows (workers too), as C(node_id) and C(addr) (with the raft port).
  returned: success
  type: list
  elements: dict
error: {description: "The node's swarm error, if any.", returned: success, type: str}
hostname: {description: The engine's host name., returned: success, type: str}
leader_available:
  description:
    - On a manager, whether its swarm has a leader. V(false) when quorum is lost (more than half of the managers
      down) - the manager answers, but cannot list or change anything; RV(nodes) is then empty and RV(error) says why.
  returned: when the node is a manager
  type: bool
  version_added: 0.1.0
nodes:
  description:
    - Every node of the swarm, with C(id), C(hostname), C(role), C(availability), C(labels), C(state),
      C(addr), C(leader) and C(reachability) (managers only).
  returned: when the node is a manager
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    connection_argument_spec,
    run_module,
)
from ansible_collections.docknet.fabric.plugins.module_utils._swarm_info import gather


def main():
    module = AnsibleModule(argument_spec=connection_argument_spec(), supports_check_mode=True)
    run_module(module, lambda client: dict(changed=False, **gather(client)))


if __name__ == '__main__':
    main()
