#!/usr/bin/python
# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: network_probe
short_description: What a container on given Docker networks can resolve and reach
version_added: 0.1.0
description:
  - Starts a short-lived probe container on one Docker host, attached to O(networks). For each
    target it resolves the name through Docker's embedded DNS and tries to reach it, by ICMP echo
    or, when a port is given, by a TCP connect. Then the container is removed.
  - Each target states what is expected (V(reachable), V(unreachable) or V(any)); the module fails
    when a result is not as expected, unless O(fail_on_unexpected=false). This makes isolation and
    policy checks ("the backend cannot reach the frontend") as easy as reachability checks.
  - The probe image needs a POSIX shell with C(nslookup), C(ping), C(nc), C(timeout), C(awk),
    C(tr) and C(sed); a busybox image has them all. No image is pulled; it must be present on the host.
  - It changes nothing that lasts, so it never reports a change. In check mode no probe is run.
extends_documentation_fragment:
  - docknet.fabric.docker
  - docknet.fabric.attributes
  - docknet.fabric.attributes.actiongroup_docker
attributes:
  check_mode:
    support: partial
    details:
      - In check mode nothing is started and RV(results) is empty.
  diff_mode:
    support: N/A
options:
  networks:
    description:
      - The networks the probe container joins (names or ids). The first one is joined when the
        container is created, the others before it starts.
      - A swarm overlay network must be attachable.
    type: list
    elements: str
    required: true
    version_added: 0.1.0
  image:
    description:
      - The probe image. It must already be on the Docker host - nothing is pulled, and an image that is
        not there fails the task naming it. It needs busybox's C(nslookup), C(ping), C(nc) and C(timeout),
        as V(busybox:stable) has once loaded on the host (C(docker load)), or the lab's V(docknet/probe:latest).
    type: str
    required: true
    version_added: 0.1.0
  targets:
    description:
      - What to resolve and reach.
    type: list
    elements: dict
    required: true
    version_added: 0.1.0
    suboptions:
      name:
        description: A DNS name (container, alias, service, C(tasks.<service>)) or an IP address.
        type: str
        required: true
        version_added: 0.1.0
      port:
        description: A TCP port to connect to instead of an ICMP echo.
        type: int
        version_added: 0.1.0
      expect:
        description: What the result should be.
        type: str
        choices: [reachable, unreachable, any]
        default: reachable
        version_added: 0.1.0
  wait:
    description:
      - Seconds to wait for each target's answer.
    type: int
    default: 2
    version_added: 0.1.0
  fail_on_unexpected:
    description:
      - Fail when a result is not what its target expects.
    type: bool
    default: true
    version_added: 0.1.0
author:
  - docknet.fabric maintainers (@docknet)
'''

EXAMPLES = r'''
- name: The frontend reaches the web service by name, and cannot reach the database
  docknet.fabric.network_probe:
    networks: [frontend]
    image: docknet/probe:latest   # the lab's busybox image; any busybox image already on the host (nothing is pulled)
    targets:
      - name: web
        port: 80
      - name: db
        expect: unreachable

- name: An internal network has no way out
  docknet.fabric.network_probe:
    networks: [backend]
    image: docknet/probe:latest
    targets:
      - name: 192.0.2.1
        expect: unreachable
'''

RETURN = r'''
results:
  description: One entry per target, in the order given.
  returned: success, or failure on an unexpected result
  type: list
  elements: dict
  contains:
    name: {description: The target., type: str, returned: always}
    port: {description: 'The TCP port tried, or null for ICMP.', type: int, returned: always}
    addresses: {description: The addresses the name resolved to (the target itself for an IP)., type: list, elements: str, returned: always}
    resolved: {description: Whether the name resolved., type: bool, returned: always}
    reachable: {description: Whether the target answered., type: bool, returned: always}
    expect: {description: What was expected., type: str, returned: always}
    as_expected: {description: Whether the result is what was expected., type: bool, returned: always}
  sample:
    - {name: web, port: 80, addresses: [10.0.1.5], resolved: true, reachable: true, expect: reachable, as_expected: true}
unexpected:
  description: The targets whose result was not as expected.
  returned: success, or failure on an unexpected result
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    FabricError,
    connection_argument_spec,
    run_module,
)
from ansible_collections.docknet.fabric.plugins.module_utils._probe import (
    EXPECTATIONS,
    normalise_targets,
    run_probe,
)


def probe(module, client):
    params = module.params
    targets = normalise_targets(params['targets'])
    if module.check_mode:
        return dict(changed=False, results=[], unexpected=[])
    results = run_probe(client, params['image'], params['networks'], targets, wait_seconds=params['wait'])
    unexpected = ['%s%s (expected %s)' % (r['name'], ':%d' % r['port'] if r['port'] else '', r['expect'])
                  for r in results if not r['as_expected']]
    if unexpected and params['fail_on_unexpected']:
        raise FabricError('From %s: not as expected: %s.' % (', '.join(params['networks']), '; '.join(unexpected)),
                          results=results, unexpected=unexpected)
    return dict(changed=False, results=results, unexpected=unexpected)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        networks=dict(type='list', elements='str', required=True),
        image=dict(type='str', required=True),
        targets=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str', required=True),
            port=dict(type='int'),
            expect=dict(type='str', choices=list(EXPECTATIONS), default='reachable'),
        )),
        wait=dict(type='int', default=2),
        fail_on_unexpected=dict(type='bool', default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, lambda client: probe(module, client))


if __name__ == '__main__':
    main()
