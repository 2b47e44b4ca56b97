#!/usr/bin/python
# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: network_policy
short_description: Declare which swarm services and containers may talk to which; get the Docker networks that do it
version_added: 0.1.0
description:
  - Runs against a swarm manager. Takes a policy (members, the pairs of members allowed to talk, the members
    allowed out of the swarm) and compiles it into attachable overlay networks, then puts every member on the
    networks it needs and takes it off the ones it no longer needs.
  - B(Allowed pairs are symmetric.) Docker networks carry traffic both ways and on every port, so a pair allowed
    from V(a) to V(b) can also talk from V(b) to V(a), on any port. The result says so (RV(symmetric), and
    C(declared) in each cell of RV(matrix)). B(Port-level rules need a host firewall); they are not part of
    Docker's network model.
  - Members that may all talk to each other share one network; the allowed pairs are covered by as few networks
    as a greedy cover finds, and a member never shares a policy network with a member it may not reach. A member
    with no allowed pair is on no policy network.
  - Every policy network is C(internal) (no way out of the swarm), except one network per member of O(egress),
    which is that member's alone.
  - Network names and labels are stable (the same policy gives the same networks in any order of its input),
    C(<name>_<member>_<member>...) for allowed pairs (a hash when long), C(<name>_egress_<member>) for egress.
    They carry the label C(docknet.fabric.policy=<name>), the policy's ownership scope; only networks with it
    are ever removed, and a network of a needed name without it is refused.
  - Services get the policy networks by a partial update of their networks only (every other option, and their
    networks outside the policy, stay as they are). New networks are joined before old ones are left, by every
    member, so no allowed flow is ever without a network; a service whose networks change is updated (its tasks
    are replaced, one by one as its update_config says).
  - Plain containers are attached and detached with the engine of M(docknet.fabric.network_attachment), on the
    Docker hosts given in the member's O(members[].hosts) (the module connects to each with the same connection
    options). The containers of swarm tasks are never selected as plain containers; select their service.
  - Leaks are members the policy does not allow to talk that share a network outside the policy (both on
    C(frontend), for example), reported with the network's name. With O(strict=true) the task fails before any
    change; otherwise it warns. The swarm's C(ingress) network is not counted (it carries published ports only).
    Swarm tasks of a service with no network at all sit on each node's default bridge; give such members a
    network or leave them out of the policy.
  - O(state=absent) takes every member off the policy's networks and removes them.
extends_documentation_fragment:
  - docknet.fabric.docker
  - docknet.fabric.attributes
  - docknet.fabric.attributes.actiongroup_docker
attributes:
  check_mode:
    support: full
    details:
      - Plans the networks, joins, leaves and removals from the same reads and writes nothing.
  diff_mode:
    support: full
    details:
      - The diff shows the policy's networks with their members, and each service's and container's policy
        networks, before and after.
options:
  name:
    description:
      - The policy's name; it starts the names of its networks and is their ownership label.
      - 1-24 letters, digits, C(_), C(.) or C(-).
    type: str
    required: true
    version_added: 0.1.0
  members:
    description:
      - The members of the policy, each a name and a selector. A service or container belongs to one member.
      - With O(state=present), a member that selects nothing, or a name that matches nothing, fails before any change.
    type: list
    elements: dict
    default: []
    version_added: 0.1.0
    suboptions:
      name:
        description: The member's name (used in network names and the matrix); letters, digits, C(_), C(.) or C(-).
        type: str
        version_added: 0.1.0
        required: true
      services:
        description: Swarm services by name, id or shell pattern.
        type: list
        version_added: 0.1.0
        elements: str
      service_labels:
        description: Swarm services carrying every one of these labels (a null value matches any value).
        type: dict
        version_added: 0.1.0
      containers:
        description: Plain containers by name, id or shell pattern, on O(members[].hosts).
        type: list
        version_added: 0.1.0
        elements: str
      container_labels:
        description: Plain containers carrying every one of these labels, on O(members[].hosts).
        type: dict
        version_added: 0.1.0
      hosts:
        description:
          - The Docker hosts (C(docker_host) addresses, like O(docker_host)) whose containers are selected.
          - Defaults to the manager the module runs against.
        type: list
        version_added: 0.1.0
        elements: str
  allow:
    description:
      - The pairs allowed to talk; C(from) one member C(to) one or more members. Symmetric (see above).
    type: list
    elements: dict
    default: []
    version_added: 0.1.0
    suboptions:
      from:
        description: A member.
        type: str
        version_added: 0.1.0
        required: true
      to:
        description: One or more members.
        type: list
        version_added: 0.1.0
        elements: str
        required: true
  egress:
    description:
      - Members that may reach outside the swarm; each gets a non-internal network of its own.
    type: list
    elements: str
    default: []
    version_added: 0.1.0
  strict:
    description:
      - Whether members that share a network outside the policy although the policy does not allow them are a
        failure (before any change) or a warning.
    type: bool
    default: true
    version_added: 0.1.0
  state:
    description:
      - V(present) applies the policy; V(absent) takes the members off its networks and removes them.
    type: str
    choices: [present, absent]
    default: present
    version_added: 0.1.0
  wait_timeout:
    description:
      - Seconds to wait for each service update to converge.
    type: int
    default: 120
    version_added: 0.1.0
seealso:
  - module: docknet.fabric.network_probe
  - module: docknet.fabric.network_attachment
  - module: docknet.fabric.swarm_service
author:
  - docknet.fabric maintainers (@docknet)
'''

EXAMPLES = r'''
- name: web and api may talk, api and db may talk, web may go out; db cannot reach web
  docknet.fabric.network_policy:
    name: shop
    members:
      - {name: web, services: [web]}
      - {name: api, services: [api]}
      - {name: db, service_labels: {tier: db}}
    allow:
      - {from: web, to: api}
      - {from: api, to: db}
    egress: [web]
  register: policy

- name: Write the picture
  ansible.builtin.copy:
    content: "{{ policy.mermaid }}"
    dest: /tmp/shop-policy.mmd
    mode: "0644"

- name: Plain containers on two hosts join the policy too
  docknet.fabric.network_policy:
    name: lab
    members:
      - {name: api, services: [api]}
      - name: tools
        containers: ["tools-*"]
        hosts: [unix:///run/docker-a.sock, unix:///run/docker-b.sock]
    allow:
      - {from: tools, to: api}
    strict: false
'''

RETURN = r'''
policy:
  description: The policy's name.
  returned: success
  type: str
networks:
  description: The compiled networks.
  returned: success
  type: list
  elements: dict
  contains:
    name: {description: The network's name., type: str, returned: always}
    purpose: {description: C(allow) (carries allowed pairs) or C(egress)., type: str, returned: always}
    members: {description: The members on it., type: list, elements: str, returned: always}
    internal: {description: Whether it has no way out of the swarm., type: bool, returned: always}
  sample:
    - {name: shop_api_db, purpose: allow, members: [api, db], internal: true}
    - {name: shop_api_web, purpose: allow, members: [api, web], internal: true}
    - {name: shop_egress_web, purpose: egress, members: [web], internal: false}
removed_networks:
  description: The policy's networks it no longer needs (removed, or to remove in check mode).
  returned: success
  type: list
  elements: str
members:
  description: Each member, its networks, what it selected and who joins and leaves which network.
  returned: success
  type: list
  elements: dict
  contains:
    name: {description: The member., type: str, returned: always}
    networks: {description: Its policy networks., type: list, elements: str, returned: always}
    egress: {description: Whether it may go out., type: bool, returned: always}
    services: {description: The services selected., type: list, elements: str, returned: always}
    containers: {description: 'The containers selected (name, host).', type: list, elements: dict, returned: always}
    joins: {description: 'Which service or container joins which network (unit, network).', type: list, elements: dict, returned: always}
    leaves: {description: 'Which service or container leaves which network (unit, network).', type: list, elements: dict, returned: always}
matrix:
  description:
    - The expected reachability, every ordered pair of members. Allowed pairs are allowed both ways; C(declared)
      says whether that direction was written in O(allow).
  returned: success
  type: list
  elements: dict
  contains:
    from: {description: A member., type: str, returned: always}
    to: {description: Another member., type: str, returned: always}
    allowed: {description: Whether C(from) reaches C(to)., type: bool, returned: always}
    declared: {description: Whether this direction was declared (else implied by symmetry or denied)., type: bool, returned: always}
    networks: {description: The policy networks that carry the pair., type: list, elements: str, returned: always}
  sample:
    - {from: api, to: db, allowed: true, declared: true, networks: [shop_api_db]}
    - {from: db, to: web, allowed: false, declared: false, networks: []}
symmetric:
  description: Always true; allowed pairs reach each other both ways, on every port.
  returned: success
  type: bool
note:
  description: What the matrix means (symmetry; port rules need a host firewall).
  returned: success
  type: str
mermaid:
  description: A Mermaid flowchart of the members, the allowed pairs with the networks that carry them, and egress.
  returned: success
  type: str
leaks:
  description: Pairs of members the policy does not allow that share a network outside it (with O(strict=false)).
  returned: success, or failure with strict
  type: list
  elements: dict
  contains:
    members: {description: The two members., type: list, elements: str, returned: always}
    network: {description: The network they share., type: str, returned: always}
actions:
  description: What was done (or would be in check mode), in order.
  returned: success
  type: list
  elements: str
  sample: [create network shop_api_web, service web joins shop_api_web, remove network shop_old]
done:
  description: On a failure half-way, what had been done before it.
  returned: failure
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    connect,
    connection_argument_spec,
    run_module,
)
from ansible_collections.docknet.fabric.plugins.module_utils._policy import run


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        name=dict(type='str', required=True),
        members=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            services=dict(type='list', elements='str'),
            service_labels=dict(type='dict'),
            containers=dict(type='list', elements='str'),
            container_labels=dict(type='dict'),
            hosts=dict(type='list', elements='str'),
        )),
        allow=dict(type='list', elements='dict', default=[], options={
            'from': dict(type='str', required=True),
            'to': dict(type='list', elements='str', required=True),
        }),
        egress=dict(type='list', elements='str', default=[]),
        strict=dict(type='bool', default=True),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        wait_timeout=dict(type='int', default=120),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)

    def connect_host(docker_host):
        return connect(dict(module.params, docker_host=docker_host))

    run_module(module, lambda client: run(client, module.params, module.check_mode, connect_host, warn=module.warn))


if __name__ == '__main__':
    main()
