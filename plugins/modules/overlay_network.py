#!/usr/bin/python
# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: overlay_network
short_description: Swarm overlay networks - create, converge, recreate safely, remove
version_added: 0.1.0
description:
  - Creates, checks and removes swarm-scoped Docker networks of the C(overlay) driver, one (O(name)) or many
    (O(networks)) per task.
  - Must run against a swarm manager; elsewhere the task fails saying so.
  - Containers attached on other nodes are not visible from the manager - recreating or removing a network
    that still has them fails with the answer of the daemon.
  - Idempotent - lists, address forms, string booleans and what Docker fills in itself do not count as
    differences.
  - Docker cannot change a network - a declared difference fails, naming the fields, containers and services,
    unless O(recreate=true).
  - Networks it creates carry the label C(docknet.fabric.managed=true).
  - A dual-stack overlay (O(enable_ipv6=true)) needs Docker 26 (API 1.45) or newer. Docker 20.10 accepts it but
    cannot serve it (containers and tasks fail to attach, the network is unusable), so on an older manager its
    creation or recreation fails before any change, with the reason, and an existing one gets a warning. Only the
    manager's engine is seen; every node that runs containers on the network needs Docker 26 or newer.
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
  encrypted:
    description:
    - Encrypt VXLAN traffic with IPsec ESP (driver option C(encrypted)).
    - 'Docker does not check that the nodes can do IPsec. The module cannot see the nodes'' kernels either, so every
      run that declares O(encrypted=true) returns a B(warning): on a node without ESP support containers on the network
      cannot reach each other (traffic is dropped, never sent in clear).'
    type: bool
    version_added: 0.1.0
  ingress:
    description:
    - Make this the swarm routing-mesh network (only one may exist).
    type: bool
    version_added: 0.1.0
  mtu:
    description:
    - MTU of the network (C(com.docker.network.driver.mtu)).
    type: int
    version_added: 0.1.0
  vxlan_ids:
    description:
    - 'VXLAN ids, one per subnet (C(com.docker.network.driver.overlay.vxlanid_list)). Compared only when given: Docker
      chooses them otherwise.'
    type: list
    elements: int
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
        - Enable IPv6 on the network. Needs Docker 26 or newer (see the description).
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
      encrypted:
        description:
        - Encrypt VXLAN traffic with IPsec ESP (driver option C(encrypted)).
        - 'Docker does not check that the nodes can do IPsec. The module cannot see the nodes'' kernels either, so
          every run that declares O(encrypted=true) returns a B(warning): on a node without ESP support containers
          on the network cannot reach each other (traffic is dropped, never sent in clear).'
        type: bool
        version_added: 0.1.0
      ingress:
        description:
        - Make this the swarm routing-mesh network (only one may exist).
        type: bool
        version_added: 0.1.0
      mtu:
        description:
        - MTU of the network (C(com.docker.network.driver.mtu)).
        type: int
        version_added: 0.1.0
      vxlan_ids:
        description:
        - 'VXLAN ids, one per subnet (C(com.docker.network.driver.overlay.vxlanid_list)). Compared only when given:
          Docker chooses them otherwise.'
        type: list
        elements: int
        version_added: 0.1.0
author:
  - docknet.fabric maintainers (@docknet)
'''

EXAMPLES = r'''
- name: An attachable overlay with a fixed subnet and VXLAN id
  docknet.fabric.overlay_network:
    name: app
    attachable: true
    ipam_config:
      - subnet: 10.30.0.0/24
    vxlan_ids: [4242]
    mtu: 1400

- name: All overlays of the swarm
  docknet.fabric.overlay_network:
    networks:
      - name: app
        attachable: true
      - name: secure
        encrypted: true
    purge: true
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

DRIVER = 'overlay'


def main():
    module = AnsibleModule(argument_spec=network_argument_spec(DRIVER, connection_argument_spec()), **MODULE_KWARGS)
    run_module(module, lambda client: run(client, module.params, DRIVER, module.check_mode, warn=module.warn))


if __name__ == '__main__':
    main()
