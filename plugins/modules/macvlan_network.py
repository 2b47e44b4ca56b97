#!/usr/bin/python
# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: macvlan_network
short_description: Macvlan networks, local or swarm-wide - create, converge, recreate safely, remove
version_added: 0.1.0
description:
  - Creates, checks and removes Docker networks of the C(macvlan) driver, one (O(name)) or many (O(networks))
    per task.
  - A swarm-wide macvlan network is two parts - a configuration-only network (O(config_only=true)) with the
    parent and addresses on B(every) node, then a swarm-scoped network made with O(config_from) on a manager.
  - The module talks to the daemon through O(docker_host) and cannot look at the interfaces of the host - a
    missing parent, or a VLAN parent (V(eth0.50)) on a host without 802.1q, is reported from the error Docker
    returns as a clear message.
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
  parent:
    description:
    - Host interface the containers attach to. A parent like V(eth0.50) makes Docker create an 802.1q VLAN link; on
      a host that cannot, the task fails saying so. A parent that does not exist on the Docker host fails with a clear
      message.
    - Docker takes one macvlan network per parent. A parent that another macvlan network of the host uses (a
      configuration-only one included) fails before anything is created, naming that network.
    type: str
    version_added: 0.1.0
  macvlan_mode:
    description:
    - Macvlan mode. Docker assumes V(bridge).
    type: str
    choices:
    - bridge
    - private
    - vepa
    - passthru
    version_added: 0.1.0
  config_only:
    description:
    - Create a configuration-only network (parent, addresses), one per node, for a swarm-scoped macvlan network made
      with O(config_from) on a manager.
    - Docker stores it with the driver C(null).
    type: bool
    version_added: 0.1.0
  config_from:
    description:
    - Create a swarm-scoped macvlan network that takes its settings from the configuration-only network of this name
      on each node. Must run against a swarm manager.
    - O(parent), O(ipam_config), O(options) and O(enable_ipv6) belong on the configuration-only network and are refused
      here.
    - 'Docker refuses labels on such a network, so O(labels) is refused too and it carries no ownership label: it
      counts as owned (for O(purge)) when its configuration-only network is.'
    type: str
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
      parent:
        description:
        - Host interface the containers attach to. A parent like V(eth0.50) makes Docker create an 802.1q VLAN link;
          on a host that cannot, the task fails saying so. A parent that does not exist on the Docker host fails with
          a clear message.
        - A parent that another macvlan network of the host uses (a configuration-only one included) fails before
          anything is created, naming that network.
        type: str
        version_added: 0.1.0
      macvlan_mode:
        description:
        - Macvlan mode. Docker assumes V(bridge).
        type: str
        choices:
        - bridge
        - private
        - vepa
        - passthru
        version_added: 0.1.0
      config_only:
        description:
        - Create a configuration-only network (parent, addresses), one per node, for a swarm-scoped macvlan network
          made with O(config_from) on a manager.
        - Docker stores it with the driver C(null).
        type: bool
        version_added: 0.1.0
      config_from:
        description:
        - Create a swarm-scoped macvlan network that takes its settings from the configuration-only network of this
          name on each node. Must run against a swarm manager.
        - O(parent), O(ipam_config), O(options) and O(enable_ipv6) belong on the configuration-only network and are
          refused here.
        - 'Docker refuses labels on such a network, so O(labels) is refused too and it carries no ownership label:
          it counts as owned (for O(purge)) when its configuration-only network is.'
        type: str
        version_added: 0.1.0
author:
  - docknet.fabric maintainers (@docknet)
'''

EXAMPLES = r'''
- name: A macvlan network on the host's interface
  docknet.fabric.macvlan_network:
    name: lan
    parent: eth0
    macvlan_mode: bridge
    ipam_config:
      - subnet: 192.168.50.0/24
        gateway: 192.168.50.1
        ip_range: 192.168.50.128/25

- name: Swarm-wide macvlan, part 1 - the per-node configuration (on every node)
  docknet.fabric.macvlan_network:
    name: lan-config
    config_only: true
    parent: eth0
    ipam_config:
      - subnet: 192.168.60.0/24
        ip_range: "192.168.60.{{ 16 * groups['all'].index(inventory_hostname) }}/28"

- name: Swarm-wide macvlan, part 2 - the swarm network (on a manager)
  docknet.fabric.macvlan_network:
    name: lan
    config_from: lan-config
    attachable: true
  when: inventory_hostname in groups['managers']
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

DRIVER = 'macvlan'


def main():
    module = AnsibleModule(argument_spec=network_argument_spec(DRIVER, connection_argument_spec()), **MODULE_KWARGS)
    run_module(module, lambda client: run(client, module.params, DRIVER, module.check_mode, warn=module.warn))


if __name__ == '__main__':
    main()
