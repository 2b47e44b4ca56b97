#!/usr/bin/python
# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: bridge_network
short_description: Bridge networks of one Docker host - create, converge, recreate safely, remove
version_added: 0.1.0
description:
  - Creates, checks and removes Docker networks of the C(bridge) driver on one Docker host, one (O(name)) or
    many (O(networks)) per task.
  - Idempotent - lists, address forms, string booleans and what Docker fills in itself do not count as
    differences.
  - Docker cannot change a network - a declared difference fails, naming the fields, containers and services,
    unless O(recreate=true).
  - Networks it creates carry the label C(docknet.fabric.managed=true).
extends_documentation_fragment:
  - docknet.fabric.docker
  - docknet.fabric.network
  - docknet.fabric.attributes
  - docknet.fabric.attributes.actiongroup_docker
attributes:
  check_mode:
    support: full
    details:
      - Runs the same cycle and reports the same C(changed), C(actions) and diff, without writing.
  diff_mode:
    support: full
    details:
      - C(before) and C(after) map each network handled to its settings (V(null) when absent); a recreation shows as a replacement.
options:
  bridge_name:
    description:
    - Name of the Linux bridge (C(com.docker.network.bridge.name)).
    type: str
    version_added: 0.1.0
  enable_icc:
    description:
    - Allow traffic between containers of the network (C(com.docker.network.bridge.enable_icc)). Docker assumes V(true)
      when not set.
    type: bool
    version_added: 0.1.0
  enable_ip_masquerade:
    description:
    - Masquerade outgoing traffic (C(com.docker.network.bridge.enable_ip_masquerade)). Docker assumes V(true).
    type: bool
    version_added: 0.1.0
  host_binding_ipv4:
    description:
    - Default host address for published ports (C(com.docker.network.bridge.host_binding_ipv4)).
    type: str
    version_added: 0.1.0
  mtu:
    description:
    - MTU of the network (C(com.docker.network.driver.mtu)).
    type: int
    version_added: 0.1.0
  networks:
    description:
    - Many networks of this driver, each a dict of the options of the single form (with its own O(networks[].state)).
    - One task converges them all from a single listing of the daemon's networks. Mutually exclusive with O(name).
    type: list
    elements: dict
    version_added: 0.1.0
    suboptions:
      name:
        description:
        - Name of the network.
        type: str
        required: true
        version_added: 0.1.0
      state:
        description:
        - V(present) creates the network or makes it match; V(absent) removes it.
        - A network with attached containers or swarm services is only removed with O(force=true); without it the
          task fails naming them.
        - When not set, V(present).
        type: str
        choices:
        - present
        - absent
        version_added: 0.1.0
      ipam_config:
        description:
        - Address pools, IPv4 and IPv6. Compared whatever their order and the textual form of the addresses (compressed
          or expanded IPv6).
        - A gateway Docker chose itself is not a difference; address families not declared at all are not compared.
        - Each subnet must be a network in CIDR form; gateway, ip_range and aux addresses must lie inside it; pools
          must not overlap; an IPv6 pool needs O(enable_ipv6=true).
        type: list
        elements: dict
        suboptions:
          subnet:
            description:
            - The pool, in CIDR form.
            type: str
            required: true
            version_added: 0.1.0
          gateway:
            description:
            - Gateway address inside O(ipam_config[].subnet).
            type: str
            version_added: 0.1.0
          ip_range:
            description:
            - Sub-range (CIDR) that containers get addresses from.
            type: str
            aliases:
            - iprange
            version_added: 0.1.0
          aux_addresses:
            description:
            - Addresses Docker must not hand out, as host name -> address.
            type: dict
            version_added: 0.1.0
        version_added: 0.1.0
      ipam_driver:
        description:
        - IPAM driver. Docker uses V(default) when not set.
        type: str
        version_added: 0.1.0
      ipam_options:
        description:
        - IPAM driver options, compared exactly when given.
        type: dict
        version_added: 0.1.0
      enable_ipv6:
        description:
        - Enable IPv6 on the network.
        type: bool
        version_added: 0.1.0
      internal:
        description:
        - No route out of the network.
        type: bool
        version_added: 0.1.0
      attachable:
        description:
        - Whether standalone containers may join a swarm-scoped network.
        type: bool
        version_added: 0.1.0
      labels:
        description:
        - Labels of the network. When given they are compared exactly, so removing a declared label is a change; when
          not given, labels are not compared.
        - The collection adds the ownership label C(docknet.fabric.managed=true) itself; do not declare it.
        type: dict
        version_added: 0.1.0
      options:
        description:
        - Raw driver options, passed through to Docker. When given they are compared exactly (keys Docker fills in
          itself are ignored).
        - Keys that belong to another driver, or that a dedicated option of this module sets, are refused.
        type: dict
        aliases:
        - driver_options
        version_added: 0.1.0
      recreate:
        description:
        - Docker cannot change a network. When a declared setting differs the task fails, naming each differing field
          and the attached containers and services, unless O(recreate=true).
        - With O(recreate=true) the containers are disconnected, the network is recreated and every container is reconnected
          with the endpoint settings it had (aliases, static addresses, links, driver options).
        - A network used by swarm services is never recreated. In the list form, the top-level value is the default
          of each entry.
        type: bool
        version_added: 0.1.0
      force:
        description:
        - With O(state=absent) (or O(purge=true)), disconnect attached containers, update the swarm services that
          use the network so they leave it, and remove the network.
        - Containers attached on other swarm nodes are not seen from this host; Docker refuses the removal while they
          are there.
        - In the list form, the top-level value is the default of each entry.
        type: bool
        version_added: 0.1.0
      bridge_name:
        description:
        - Name of the Linux bridge (C(com.docker.network.bridge.name)).
        type: str
        version_added: 0.1.0
      enable_icc:
        description:
        - Allow traffic between containers of the network (C(com.docker.network.bridge.enable_icc)). Docker assumes
          V(true) when not set.
        type: bool
        version_added: 0.1.0
      enable_ip_masquerade:
        description:
        - Masquerade outgoing traffic (C(com.docker.network.bridge.enable_ip_masquerade)). Docker assumes V(true).
        type: bool
        version_added: 0.1.0
      host_binding_ipv4:
        description:
        - Default host address for published ports (C(com.docker.network.bridge.host_binding_ipv4)).
        type: str
        version_added: 0.1.0
      mtu:
        description:
        - MTU of the network (C(com.docker.network.driver.mtu)).
        type: int
        version_added: 0.1.0
author:
  - docknet.fabric maintainers (@docknet)
'''

EXAMPLES = r'''
- name: One bridge, dual stack
  docknet.fabric.bridge_network:
    name: backend
    enable_ipv6: true
    ipam_config:
      - subnet: 10.20.0.0/24
        gateway: 10.20.0.1
      - subnet: fd00:20::/64
    enable_icc: false
    labels:
      tier: backend

- name: All bridges of the host; remove the owned ones no longer listed
  docknet.fabric.bridge_network:
    networks:
      - name: frontend
        ipam_config:
          - subnet: 10.21.0.0/24
      - name: legacy
        state: absent
        force: true
    purge: true

- name: Change the subnet of a network that has containers (they are reconnected with their settings)
  docknet.fabric.bridge_network:
    name: frontend
    ipam_config:
      - subnet: 10.21.0.0/16
    recreate: true
'''

RETURN = r'''
changed:
  description: Whether a network was (or in check mode would be) created, recreated or removed.
  returned: always
  type: bool
actions:
  description: What was done (or would be), one entry per network with something to do.
  returned: success
  type: list
  elements: dict
  sample: [{network: backend, action: recreate, changes: [ipam_config], containers: [web_1]}]
  contains:
    network: {description: Network name., type: str, returned: always}
    action: {description: 'V(create), V(recreate) or V(remove).', type: str, returned: always}
    changes:
      description: The options whose declared value differs, by option name, as in network_attachment (recreate only).
      type: list
      elements: str
      returned: when recreating
    containers: {description: Containers disconnected (and reconnected on recreate)., type: list, elements: str, returned: when any}
    purge: {description: The network was removed by O(purge)., type: bool, returned: when purged}
networks:
  description: Every declared (or purged) network with its action (V(none) when nothing to do) and id.
  returned: success
  type: list
  elements: dict
  sample: [{name: backend, action: none, id: 3f1c...}]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    connection_argument_spec,
    run_module,
)
from ansible_collections.docknet.fabric.plugins.module_utils._network import (
    MODULE_KWARGS,
    network_argument_spec,
    run,
)

DRIVER = 'bridge'


def main():
    module = AnsibleModule(argument_spec=network_argument_spec(DRIVER, connection_argument_spec()), **MODULE_KWARGS)
    run_module(module, lambda client: run(client, module.params, DRIVER, module.check_mode, warn=module.warn))


if __name__ == '__main__':
    main()
