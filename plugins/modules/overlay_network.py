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
  - docknet.fabric._network_options
  - docknet.fabric._network_options.overlay
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
    action:
      description:
        - V(create), V(recreate) or V(remove); V(resume) when an interrupted recreation was finished first (its
          C(containers) are the ones reconnected, C(gone) the recorded ones that no longer exist).
      type: str
      returned: always
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
duplicates_removed:
  description:
    - Networks of a declared name with the same settings and no endpoints, made by another run at the same time
      (Docker does not prevent it); the oldest (by creation time, then id) is kept and these are removed.
  returned: success
  type: list
  elements: dict
  sample: [{network: backend, id: 9a2e..., kept: 3f1c...}]
done:
  description: On failure, the writes Docker had accepted before it (then C(changed) is V(true)).
  returned: when the task failed after a change
  type: list
  elements: str
  sample: [Creating network web, Creating network db]
interrupted:
  description: On failure, the write in flight (Docker may or may not have made it).
  returned: when the task failed during a write
  type: str
recreation_records:
  description:
    - On failure during a recreation, the volumes on the Docker host that record the endpoints still to reconnect;
      the next run of the task finishes the recreation.
  returned: when a recreation failed half-way
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    connection_argument_spec,
    run_module,
)
from ansible_collections.docknet.fabric.plugins.module_utils._network import run
from ansible_collections.docknet.fabric.plugins.module_utils._network_spec import MODULE_KWARGS, network_argument_spec

DRIVER = 'overlay'


def main():
    module = AnsibleModule(argument_spec=network_argument_spec(DRIVER, connection_argument_spec()), **MODULE_KWARGS)
    run_module(module, lambda client: run(client, module.params, DRIVER, module.check_mode, warn=module.warn))


if __name__ == '__main__':
    main()
