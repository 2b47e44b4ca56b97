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
    target it resolves the name through Docker's embedded DNS and tries to reach B(every) address
    the name resolves to (a dnsrr service has one per task), by ICMP echo or, when a port is given,
    by a TCP connect. Then the container is removed.
  - Each target's result lists every address and whether it answered; O(targets[].match) says
    whether O(targets[].expect) must hold for all addresses (the default) or for any one. A target
    given twice is probed and reported twice. A failure says whether the name did not resolve or
    which addresses did not answer.
  - With O(spread), the probe makes N HTTP requests to one name and counts the answers per
    backend, each backend naming itself in the first line of its answer (for example a busybox
    C(httpd) serving a file holding its hostname). This measures how a dnsrr service spreads load.
    A service in the default VIP endpoint mode needs IPVS in the kernel of every node; without it
    the VIP resolves but passes no traffic.
  - Each target states what is expected (V(reachable), V(unreachable) or V(any)); the module fails
    when a result is not as expected, unless O(fail_on_unexpected=false). This makes isolation and
    policy checks ("the backend cannot reach the frontend") as easy as reachability checks.
  - The probe image needs a POSIX shell with C(nslookup), C(ping), C(nc), C(timeout), C(awk),
    C(sort), C(head), C(tr) and, for O(spread), C(wget); a busybox image has them all. No image is pulled; it must be present on the host.
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
      - Required unless O(spread) is given.
    type: list
    elements: dict
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
      match:
        description:
          - Whether O(targets[].expect) must hold for V(all) the addresses the name resolves to,
            or for V(any) one of them. A name that does not resolve is unreachable.
        type: str
        choices: [all, any]
        default: all
        version_added: 0.1.0
  spread:
    description:
      - Make O(spread.requests) HTTP GET requests to one name and count the answers per backend.
      - Each request resolves the name again, as a client would, so a dnsrr service's answers
        rotate over its tasks.
    type: dict
    version_added: 0.1.0
    suboptions:
      name:
        description: The DNS name (a service, or C(tasks.<service>)).
        type: str
        version_added: 0.1.0
        required: true
      port:
        description: The HTTP port.
        type: int
        version_added: 0.1.0
        default: 80
      path:
        description: The URL path; the first line of the answer names the backend.
        type: str
        version_added: 0.1.0
        default: /
      requests:
        description: How many requests to make.
        type: int
        version_added: 0.1.0
        default: 30
      min_backends:
        description:
          - How many distinct backends must answer; fewer, or any request without an answer,
            makes the result unexpected.
        type: int
        version_added: 0.1.0
        default: 1
  wait:
    description:
      - Seconds to wait for each target's answer (each address's, each request's).
      - A whole number of at least 1; anything else is refused before a container is made.
    type: int
    default: 2
    version_added: 0.1.0
  settle:
    description:
      - Seconds to keep probing while any result is not as expected. Each attempt is a new probe
        container, 3 seconds after the last; the last one starts when the settle time is over. The
        results are those of the last attempt and RV(attempts) counts them. V(0) probes once.
      - Right after service tasks start or restart, their names reach the other nodes' DNS by gossip
        a few seconds later; a check run then needs a settle time to pass on a swarm that is about to
        be right. A real difference stays and is reported once the settle time is over.
      - A whole number of seconds, V(0) or more; anything else is refused before a container is made.
    type: int
    default: 0
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
- name: Every replica of the dnsrr service web answers on port 80 (one result per address)
  docknet.fabric.network_probe:
    networks: [frontend]
    image: docknet/probe:latest
    targets:
      - name: web
        port: 80
        match: all

- name: How 60 requests to web spread over its replicas (each serves its hostname)
  docknet.fabric.network_probe:
    networks: [frontend]
    image: docknet/probe:latest
    spread:
      name: web
      requests: 60
      min_backends: 3
    settle: 30   # the tasks were just (re)started: give their names time to reach every node
  register: web_spread

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
    per_address:
      description: Each address and whether it answered.
      type: list
      elements: dict
      returned: always
      contains:
        address: {description: The address., type: str}
        reachable: {description: Whether it answered., type: bool}
    resolved: {description: Whether the name resolved., type: bool, returned: always}
    reachable: {description: 'Whether the target answered: every address (O(targets[].match=all)) or one (V(any)).', type: bool, returned: always}
    expect: {description: What was expected., type: str, returned: always}
    match: {description: Whether the expectation applies to all addresses or any., type: str, returned: always}
    as_expected: {description: Whether the result is what was expected., type: bool, returned: always}
    failure:
      description: 'Why the result is not as expected: the name did not resolve, which addresses gave no answer, or which answered.'
      type: str
      returned: always
  sample:
    - name: web
      port: 80
      addresses: [10.0.1.5, 10.0.1.6]
      per_address: [{address: 10.0.1.5, reachable: true}, {address: 10.0.1.6, reachable: false}]
      resolved: true
      reachable: false
      expect: reachable
      match: all
      as_expected: false
      failure: no answer from 10.0.1.6
spread:
  description: The answers per backend, when O(spread) was given.
  returned: when O(spread) is given
  type: dict
  contains:
    name: {description: The name asked., type: str}
    requests: {description: Requests made., type: int}
    answered: {description: Requests that got an answer., type: int}
    failed: {description: Requests without an answer., type: int}
    backends: {description: Answers per backend (the first line of each answer)., type: dict}
    distinct_backends: {description: How many backends answered., type: int}
    as_expected: {description: At least O(spread.min_backends) backends answered and no request failed., type: bool}
  sample: {name: web, port: 80, path: /, requests: 60, answered: 60, failed: 0,
           backends: {0f3a9c1d2b4e: 21, 7d1e2f3a4b5c: 19, c2b3a4d5e6f7: 20}, distinct_backends: 3, as_expected: true}
unexpected:
  description: The targets whose result was not as expected.
  returned: success, or failure on an unexpected result
  type: list
  elements: str
attempts:
  description: How many probes ran (more than one when O(settle) probed again); 0 in check mode.
  returned: always
  type: int
  sample: 1
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    FabricError,
    connection_argument_spec,
    run_module,
)
from ansible_collections.docknet.fabric.plugins.module_utils._probe import (
    EXPECTATIONS,
    MATCHES,
    describe_unexpected,
    normalise_spread,
    normalise_targets,
    normalise_settle,
    normalise_wait,
    probe_until_expected,
    run_probe,
)


def probe(module, client):
    params = module.params
    targets = normalise_targets(params['targets'])
    spread = normalise_spread(params['spread'])
    wait = normalise_wait(params['wait'])
    settle = normalise_settle(params['settle'])
    if not targets and not spread:
        raise FabricError('Give targets, spread, or both: there is nothing to probe.')
    if module.check_mode:
        return dict(changed=False, results=[], unexpected=[], attempts=0)

    def attempt():
        outcome = run_probe(client, params['image'], params['networks'], targets, wait_seconds=wait, spread=spread)
        results, spread_result = outcome if spread else (outcome, None)
        unexpected = [describe_unexpected(r) for r in results if not r['as_expected']]
        if spread_result is not None and not spread_result['as_expected']:
            unexpected.append('spread over %s: %d of %d requests answered, by %d backend(s), %d expected' % (
                spread['name'], spread_result['answered'], spread['requests'],
                spread_result['distinct_backends'], spread['min_backends']))
        return (results, spread_result), unexpected

    (results, spread_result), unexpected, attempts = probe_until_expected(attempt, settle)
    extra = dict(attempts=attempts)
    if spread_result is not None:
        extra['spread'] = spread_result
    if unexpected and params['fail_on_unexpected']:
        raise FabricError('From %s: not as expected%s: %s.' % (
            ', '.join(params['networks']), ' after %d probes over %d s' % (attempts, settle) if attempts > 1 else '',
            '; '.join(unexpected)), results=results, unexpected=unexpected, **extra)
    return dict(changed=False, results=results, unexpected=unexpected, **extra)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        networks=dict(type='list', elements='str', required=True),
        image=dict(type='str', required=True),
        targets=dict(type='list', elements='dict', options=dict(
            name=dict(type='str', required=True),
            port=dict(type='int'),
            expect=dict(type='str', choices=list(EXPECTATIONS), default='reachable'),
            match=dict(type='str', choices=list(MATCHES), default='all'),
        )),
        spread=dict(type='dict', options=dict(
            name=dict(type='str', required=True),
            port=dict(type='int', default=80),
            path=dict(type='str', default='/'),
            requests=dict(type='int', default=30),
            min_backends=dict(type='int', default=1),
        )),
        wait=dict(type='int', default=2),
        settle=dict(type='int', default=0),
        fail_on_unexpected=dict(type='bool', default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, required_one_of=[('targets', 'spread')],
                           supports_check_mode=True)
    run_module(module, lambda client: probe(module, client))


if __name__ == '__main__':
    main()
