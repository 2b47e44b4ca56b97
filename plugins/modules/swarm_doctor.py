#!/usr/bin/python
# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: swarm_doctor
short_description: Find why traffic between Docker Swarm nodes fails, and say what to do
version_added: 0.1.0
description:
  - Runs once (for example with C(run_once) or on one host) and reaches every node of O(nodes)
    through that node's own daemon (O(nodes[].docker_host)); the swarm's view comes from the first
    listed node that is a manager and answers. It is a module, not a role, so that one task gives
    one report, with node x node matrices, from live state.
  - Checks, node pair by node pair, and reports each failure as a finding with its cause and its
    fix in one line.
  - V(nodes) - every listed node answers, is in this swarm, is C(ready) and C(active) for the
    managers; managers are reachable and have a raft quorum. A drained node is a warning.
  - V(control_plane) - from a short-lived container in each node's host network namespace, a
    TCP connect to every manager's swarm port (2377) and every other node's gossip port (7946).
    7946/udp is not probed (a TCP probe cannot see dropped UDP datagrams).
  - V(data_path) - a temporary attachable overlay with a probe container on each node; every probe
    pings every other (VXLAN, 4789/udp by default). The overlay and the probes are removed
    afterwards, also when a check fails.
  - V(mtu) - each swarm overlay's MTU against each node's underlay link (the one holding its swarm
    address) minus the 50 bytes of VXLAN; and, on the temporary overlay, the largest packet that
    passes between each pair. busybox C(ping) cannot set Don't Fragment, so a path that fragments
    VXLAN packets passes the probe; the configuration check still names it.
  - V(addresses) - swarm overlays' subnets that overlap each other, or overlap a node's local
    networks (bridges, C(docker_gwbridge), macvlan) or its own routes.
  - V(clocks) - nodes whose clock differs from the manager's by more than O(max_clock_skew)
    (a warning from a sixtieth of it, at least 5 s).
  - A row or column of a matrix that fails as a whole names the node (for example "node2 accepts
    no gossip connection") instead of each pair. Failures that involve a node that is down are
    explained by that node.
  - It changes nothing of the user's. The temporary overlay and containers are named
    C(docknet-doctor-<run>-...) and labelled C(docknet.fabric.doctor=<run>).
extends_documentation_fragment:
  - docknet.fabric.docker
  - docknet.fabric.attributes
  - docknet.fabric.attributes.actiongroup_docker
attributes:
  check_mode:
    support: partial
    details:
      - In check mode no container or network is made, so control plane, data path and the MTU
        probe are skipped; nodes, clocks, subnet overlaps between networks, and the overlays' MTU
        settings are checked.
  diff_mode:
    support: N/A
options:
  nodes:
    description:
      - The swarm's nodes, each with the address of its own Docker daemon. The connection options
        (O(tls), O(ca_path), O(timeout), ...) apply to every node; O(docker_host) is not used.
    type: list
    elements: dict
    required: true
    version_added: 0.1.0
    suboptions:
      name:
        description: The node's hostname as the swarm lists it.
        type: str
        version_added: 0.1.0
        required: true
      docker_host:
        description: The node's Docker daemon.
        type: str
        version_added: 0.1.0
        required: true
      address:
        description: The node's swarm address; by default the one the managers list.
        type: str
        version_added: 0.1.0
      tls_hostname:
        description: The name in this daemon's certificate, when it is not the address.
        type: str
        version_added: 0.1.0
  image:
    description:
      - The probe image, present on every node (no image is pulled). It needs busybox's C(sh),
        C(nc) (with C(-e)), C(ping), C(ip), C(date) and C(sleep).
    type: str
    required: true
    version_added: 0.1.0
  checks:
    description:
      - The checks to run.
    type: list
    elements: str
    choices: [nodes, control_plane, data_path, mtu, addresses, clocks]
    default: [nodes, control_plane, data_path, mtu, addresses, clocks]
    version_added: 0.1.0
  wait:
    description:
      - Seconds to wait for one TCP connect or ping answer. Pings over the new overlay are retried
        for 10 s plus twice this, since gossip takes a moment to announce the probes.
    type: int
    default: 2
    version_added: 0.1.0
  max_clock_skew:
    description:
      - Seconds a node's clock may differ from the manager's. Swarm backdates node certificates by
        one hour, so beyond 3600 s a node rejects the certificates the managers issue.
    type: int
    default: 3600
    version_added: 0.1.0
  fail_on_findings:
    description:
      - Fail when a check finds an error. With V(false) the module only reports (RV(healthy) says
        whether all is well).
    type: bool
    default: true
    version_added: 0.1.0
author:
  - docknet.fabric maintainers (@docknet)
'''

EXAMPLES = r'''
- name: Each node of the swarm, with its own daemon's address
  ansible.builtin.set_fact:
    doctor_node:
      name: "{{ inventory_hostname }}"
      docker_host: "{{ docker_host }}"

- name: Why does overlay traffic fail? One report for the whole swarm
  docknet.fabric.swarm_doctor:
    image: docknet/probe:latest
    nodes: "{{ ansible_play_hosts | map('extract', hostvars, 'doctor_node') | list }}"
    fail_on_findings: false
  run_once: true
  register: doctor

- name: Print the summary and the matrices
  ansible.builtin.debug:
    msg: "{{ doctor.summary + (doctor.matrices.values() | flatten) }}"
  run_once: true
'''

RETURN = r'''
healthy:
  description: Whether no check found an error (warnings allowed).
  returned: always
  type: bool
manager:
  description: The node whose view of the swarm was used.
  returned: always
  type: str
run_id:
  description: The id in the names and labels of this run's temporary objects.
  returned: always
  type: str
summary:
  description: One line per check (ok, warning, FAILED, skipped), then one per finding.
  returned: always
  type: list
  elements: str
  sample:
    - nodes         ok
    - control_plane FAILED
    - >-
      ERROR control_plane: node3: accepts no gossip connection on 7946/tcp (from node1, node2).
      Fix: open 7946/tcp and 7946/udp inbound on node3 (198.18.1.13).
findings:
  description: Every problem found, errors and warnings.
  returned: always
  type: list
  elements: dict
  contains:
    code: {description: The kind of problem (the catalogue key)., type: str}
    check: {description: The check that found it., type: str}
    severity: {description: V(error) or V(warning)., type: str}
    nodes: {description: The nodes concerned., type: list, elements: str}
    cause: {description: What is wrong., type: str}
    fix: {description: What to do., type: str}
    message: {description: Cause and fix in one line., type: str}
checks:
  description: Per check, its status (C(ok), C(failed), C(skipped)) and its data (node x node matrices with cells
    C(ok), C(FAIL), C(-) for the node itself or not applicable, C(skip) when the source could not probe; the MTU
    matrix has the largest packet carried where it is below the overlay MTU).
  returned: always
  type: dict
matrices:
  description: The matrices as aligned text lines (rows are sources, columns destinations), by check and title.
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    HAS_DOCKER_SDK,
    FabricError,
    connection_argument_spec,
)
from ansible_collections.docknet.fabric.plugins.module_utils._doctor import run_doctor
from ansible_collections.docknet.fabric.plugins.module_utils._doctor_catalogue import CHECKS


def examine(module):
    """Connects to each node itself (run_module would connect to one docker_host first)."""
    if not HAS_DOCKER_SDK:
        module.fail_json(msg=missing_required_lib('docker (the Docker SDK for Python)'))
    try:
        result = run_doctor(module.params, module.check_mode)
    except FabricError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    errors = [f['message'] for f in result['findings'] if f['severity'] == 'error']
    if errors and module.params['fail_on_findings']:
        module.fail_json(msg='swarm_doctor found %d problem(s): %s' % (len(errors), ' | '.join(errors)), **result)
    module.exit_json(**result)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        nodes=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str', required=True),
            docker_host=dict(type='str', required=True),
            address=dict(type='str'),
            tls_hostname=dict(type='str'),
        )),
        image=dict(type='str', required=True),
        checks=dict(type='list', elements='str', choices=list(CHECKS), default=list(CHECKS)),
        wait=dict(type='int', default=2),
        max_clock_skew=dict(type='int', default=3600),
        fail_on_findings=dict(type='bool', default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    examine(module)


if __name__ == '__main__':
    main()
