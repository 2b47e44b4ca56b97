#!/usr/bin/python
# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: network_info
short_description: What networks a Docker host has, and what is attached to each
version_added: 0.1.0
description:
  - Lists the networks of one Docker host with their settings, the containers attached to each
    (name, addresses, aliases) and, when the host is a swarm manager, the swarm services attached, each
    with its tasks on every node (node and addresses on the network).
  - Reads three listings from the daemon (networks, containers, services; on a manager with services also
    tasks and nodes), never one inspect per network or task, so it stays fast on hosts with many networks. Docker's container listing leaves out
    endpoint aliases, so each container attached to a selected network is inspected once.
  - Containers are those of this host only; on an overlay network, containers of other nodes are
    reported by the network_info of those nodes.
extends_documentation_fragment:
  - docknet.fabric.docker
  - docknet.fabric.attributes
  - docknet.fabric.attributes.actiongroup_docker
  - docknet.fabric.attributes.info_module
options:
  name:
    description:
      - Only networks with one of these names, ids or shell-style patterns (V(app_*)).
      - Names match exactly; unlike C(docker network ls --filter name=), V(web) does not select V(web2).
    type: list
    elements: str
    aliases: [names]
    version_added: 0.1.0
  driver:
    description:
      - Only networks of one of these drivers (V(bridge), V(overlay), V(macvlan), ...).
    type: list
    elements: str
    aliases: [drivers]
    version_added: 0.1.0
  label:
    description:
      - Only networks carrying all these labels, each as V(key) (set to anything) or V(key=value).
    type: list
    elements: str
    aliases: [labels]
    version_added: 0.1.0
author:
  - docknet.fabric maintainers (@docknet)
'''

EXAMPLES = r'''
- name: All networks of each host, with what is attached
  docknet.fabric.network_info:
    docker_host: "{{ docker_host }}"
  register: host_networks

- name: The overlay networks this collection manages
  docknet.fabric.network_info:
    driver: [overlay]
    label: [docknet.fabric.managed]
  register: owned_overlays

- name: Which containers sit on the frontend networks
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.containers | map(attribute='name') | list }}"
  loop: "{{ (host_networks.networks | selectattr('name', 'match', 'frontend')) }}"
  loop_control:
    label: "{{ item.name }}"
'''

RETURN = r'''
networks:
  description: The selected networks, sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    name: {description: Network name., type: str, returned: always, sample: backend}
    id: {description: Network id., type: str, returned: always}
    driver: {description: Network driver., type: str, returned: always, sample: overlay}
    scope: {description: 'V(local), V(swarm) or V(global).', type: str, returned: always}
    internal: {description: Whether the network has no route out., type: bool, returned: always}
    attachable: {description: Whether standalone containers may join this swarm network., type: bool, returned: always}
    ingress: {description: Whether this is the swarm routing-mesh network., type: bool, returned: always}
    enable_ipv6: {description: Whether IPv6 is enabled., type: bool, returned: always}
    config_only: {description: Whether this is a configuration-only network., type: bool, returned: always}
    config_from: {description: The configuration-only network this one takes its settings from., type: str, returned: always}
    ipam_driver: {description: IPAM driver., type: str, returned: always, sample: default}
    ipam_options: {description: IPAM driver options., type: dict, returned: always}
    ipam_config:
      description: Address pools, each with the keys that are set among C(subnet), C(gateway), C(ip_range), C(aux_addresses).
      type: list
      elements: dict
      returned: always
      sample: [{subnet: 10.10.0.0/24, gateway: 10.10.0.1}]
    options: {description: Driver options., type: dict, returned: always}
    labels: {description: Labels., type: dict, returned: always}
    created: {description: When the network was created., type: str, returned: always}
    containers:
      description:
        - Containers of this host attached to the network, running or stopped.
        - Addresses are empty for a stopped container.
        - C(aliases) leaves out the aliases Docker adds by itself, the container's short id (before API 1.45)
          and its hostname (before Docker 26).
        - C(dns_names) (version 0.1.0) are all the names Docker's embedded DNS answers for this endpoint
          on the network (container name, aliases, short id, hostname), as Docker lists them (C(DNSNames),
          Docker API 1.44 and newer, Docker 25); V(null) on older daemons.
      type: list
      elements: dict
      returned: always
      sample: [{name: web_1, id: 3f1c..., running: true, ipv4_address: 10.10.0.2, ipv6_address: null,
                mac_address: "02:42:0a:0a:00:02", aliases: [web], dns_names: [web_1, web, 3f1c0a2b9d11]}]
    services:
      description:
        - Swarm services attached to the network (C(name), C(id), C(aliases), C(virtual_ip), C(endpoint_mode)), each
          with its C(tasks).
        - C(tasks) are the tasks the swarm wants (not those it shut down), on every node, from the manager's task
          and node listings (no inspect per task) - C(id), C(slot) (null for a global service), C(node) (hostname),
          C(node_id), C(state), C(desired_state), C(error) and C(addresses), the task's addresses on this network
          as the manager allocated them (without prefix length). For a C(dnsrr) service, which has no virtual IP,
          these are the addresses its name resolves to.
      type: list
      elements: dict
      returned: when the host is a swarm manager
      sample: [{name: web, id: 9x2..., aliases: [], virtual_ip: null, endpoint_mode: dnsrr,
                tasks: [{id: 5vx..., slot: 1, node: node1, node_id: cj1..., state: running, desired_state: running,
                         error: null, addresses: [10.0.2.3]}]}]
swarm_manager:
  description: Whether the host is a swarm manager (and so whether C(services) was filled in).
  returned: success
  type: bool
docker_api_version:
  description: The Docker API version spoken with the daemon.
  returned: success
  type: str
  sample: '1.41'
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    connection_argument_spec,
    run_module,
)
from ansible_collections.docknet.fabric.plugins.module_utils._network_info import gather


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        name=dict(type='list', elements='str', aliases=['names']),
        driver=dict(type='list', elements='str', aliases=['drivers']),
        label=dict(type='list', elements='str', aliases=['labels']),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, lambda client: dict(
        changed=False,
        **gather(client, names=module.params['name'], drivers=module.params['driver'],
                 labels=module.params['label'])))


if __name__ == '__main__':
    main()
