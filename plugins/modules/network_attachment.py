#!/usr/bin/python
# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: network_attachment
short_description: Attach containers to a Docker network, or detach them, with aliases and static addresses
version_added: 0.1.0
description:
  - Manages which containers of one Docker host sit on a network, and with which endpoint settings.
  - Selects containers by name, id, shell-style pattern and labels, so one task attaches every
    instance of a scaled service (V(web_*), or C(com.docker.compose.service=web)).
  - Works for running and stopped containers. An attachment whose declared settings differ is
    disconnected and connected again with the new settings; settings that are not declared keep
    their current values. If the new settings are refused, the old ones are put back.
  - Reads the network once and the containers with one listing; only the containers already on the
    network are inspected (the listing leaves out their aliases and links).
  - On a swarm worker, an attachable overlay network defined on a manager is joined by its name or
    id even though the worker does not know it yet (Docker lists it there only once a local
    container uses it). There, whether the network exists and is attachable is only known when
    the first container connects; the daemon's refusal is reported and nothing else is changed.
extends_documentation_fragment:
  - docknet.fabric.docker
  - docknet.fabric.attributes
  - docknet.fabric.attributes.actiongroup_docker
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff holds every container of this host on the network with its endpoint settings,
        before and after.
options:
  network:
    description:
      - The network, by name or id.
    type: str
    required: true
    version_added: 0.1.0
  containers:
    description:
      - Containers by name, id (full, or at least 12 characters) or shell-style pattern (V(web_*)).
      - Combined with O(container_labels), a container must match one of these and carry every label.
      - A name or id that matches no container, or a selection that matches nothing, is handled by O(missing).
    type: list
    elements: str
    aliases: [container]
    version_added: 0.1.0
  container_labels:
    description:
      - Only containers carrying all these labels with these values (a null value matches any value).
      - For example C(com.docker.compose.service=web) selects every instance of a Compose service.
    type: dict
    version_added: 0.1.0
  state:
    description:
      - V(present) attaches the selected containers with the declared settings.
      - V(absent) detaches them.
    type: str
    choices: [present, absent]
    default: present
    version_added: 0.1.0
  exclusive:
    description:
      - With O(state=present), also detach every other container of this host from the network, so
        that afterwards it holds exactly the selected containers.
      - Containers of swarm service tasks are left alone; their service owns them.
    type: bool
    default: false
    version_added: 0.1.0
  missing:
    description:
      - What to do when a name or id in O(containers), or the selection as a whole, matches no container.
      - V(fail) fails before any change and names what matched nothing; V(ignore) goes on with what matched.
    type: str
    choices: [fail, ignore]
    default: fail
    version_added: 0.1.0
  aliases:
    description:
      - Network-scoped aliases (DNS names on this network). When given, the endpoint has exactly these;
        V([]) removes all. Not given, an attached container keeps its own.
      - Not allowed on the default C(bridge) network.
    type: list
    elements: str
    version_added: 0.1.0
  ipv4_address:
    description:
      - Static IPv4 address. Only when exactly one container is selected; it must lie inside a pool of
        the network (created with a subnet) and not be used by another container, the gateway or an
        auxiliary address.
    type: str
    version_added: 0.1.0
  ipv6_address:
    description:
      - Static IPv6 address, under the same conditions as O(ipv4_address).
    type: str
    version_added: 0.1.0
  links:
    description:
      - Legacy links to other containers, as V(container) or V(container:alias).
    type: list
    elements: str
    version_added: 0.1.0
  driver_opts:
    description:
      - Driver options of the endpoint. Needs Docker API 1.32.
    type: dict
    version_added: 0.1.0
  mac_address:
    description:
      - MAC address the endpoint must have, compared with the one it has. Only when the daemon's API
        is 1.44 or newer (Docker 25); on older daemons the task fails before any change saying so.
      - Docker ignores a MAC address given when a container is connected to a network (moby/moby#48192,
        seen on Docker 28.5) and picks a random one, so with O(mac_address) a container that would have
        to be connected or reconnected (not on the network yet, another MAC address, other settings)
        makes the task fail before any change - give the MAC address when the container is created.
    type: str
    version_added: 0.1.0
  gw_priority:
    description:
      - Gateway priority of the endpoint (Docker API 1.48, Docker 28). Of a container's networks, the
        one with the highest priority gives its default route (IPv4 and IPv6 separately); Docker's
        default is V(0), and ties go to the network Docker picks.
      - Compared only when given; shown in the diff and results only when given.
      - On an older daemon the task fails before any change, naming the option and the API versions.
    type: int
    version_added: 0.1.0
notes:
  - Only the containers of the Docker host the task talks to are selected, attached and, with
    O(exclusive), detached; on an overlay network, each host's containers are managed by a task
    on that host.
author:
  - docknet.fabric maintainers (@docknet)
'''

EXAMPLES = r'''
- name: Attach every instance of the web service to the backend network
  docknet.fabric.network_attachment:
    network: backend
    container_labels:
      com.docker.compose.service: web
    aliases: [web]

- name: The database, at a fixed address, alone on its network
  docknet.fabric.network_attachment:
    network: db_net
    containers: [postgres]
    ipv4_address: 10.20.0.10
    aliases: [db]
    exclusive: true

- name: Scaled instances by pattern, whichever exist
  docknet.fabric.network_attachment:
    network: frontend
    containers: ["my_web_app_*"]
    missing: ignore

- name: A container of a swarm worker joins an attachable overlay defined on a manager
  docknet.fabric.network_attachment:
    network: mesh
    containers: [agent]

- name: Detach the old workers
  docknet.fabric.network_attachment:
    network: backend
    containers: ["worker_old_*"]
    state: absent
    missing: ignore
'''

RETURN = r'''
network:
  description: The network, with its id (null on a swarm worker that did not know the network and changed nothing).
  returned: success
  type: dict
  sample: {name: backend, id: 4f1c...}
containers:
  description: The selected containers, with whether they are attached afterwards and their endpoint settings.
  returned: success
  type: list
  elements: dict
  sample: [{name: web_1, id: 3f1c..., attached: true,
            settings: {aliases: [web], ipv4_address: null, ipv6_address: null, links: [], driver_opts: {}}}]
missing:
  description: The parts of the selection that matched nothing (with O(missing=ignore)).
  returned: success
  type: list
  elements: str
actions:
  description:
    - What was done (or would be done in check mode), in order; C(action) is V(connect), V(disconnect)
      or V(reconnect), C(changes) the settings a reconnect changes.
  returned: success
  type: list
  elements: dict
  sample: [{action: reconnect, container: web_1, changes: [aliases]}]
done:
  description: On failure, the writes Docker had accepted before it (then C(changed) is V(true)).
  returned: when the task failed after a change
  type: list
  elements: str
  sample: [Connecting container web_1 on network 3f1c..., Disconnecting container web_2 on network 3f1c...]
interrupted:
  description: On failure, the write in flight (Docker may or may not have made it).
  returned: when the task failed during a write
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.docknet.fabric.plugins.module_utils._attachments import run
from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    connection_argument_spec,
    run_module,
)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        network=dict(type='str', required=True),
        containers=dict(type='list', elements='str', aliases=['container']),
        container_labels=dict(type='dict'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        exclusive=dict(type='bool', default=False),
        missing=dict(type='str', choices=['fail', 'ignore'], default='fail'),
        aliases=dict(type='list', elements='str'),
        ipv4_address=dict(type='str'),
        ipv6_address=dict(type='str'),
        links=dict(type='list', elements='str'),
        driver_opts=dict(type='dict'),
        mac_address=dict(type='str'),
        gw_priority=dict(type='int'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[('containers', 'container_labels')])

    run_module(module, lambda client: run(client, module.params, module.check_mode))


if __name__ == '__main__':
    main()
