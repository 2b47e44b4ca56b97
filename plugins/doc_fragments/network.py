# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Options common to bridge_network, overlay_network and macvlan_network (one network, single form)."""

    DOCUMENTATION = r'''
options:
  name:
    description:
    - Name of the network.
    - Give either O(name) (one network) or O(networks) (many).
    type: str
    version_added: 0.1.0
  state:
    description:
    - V(present) creates the network or makes it match; V(absent) removes it.
    - A network with attached containers or swarm services is only removed with O(force=true); without it the task
      fails naming them.
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
    - Each subnet must be a network in CIDR form; gateway, ip_range and aux addresses must lie inside it; pools must
      not overlap; an IPv6 pool needs O(enable_ipv6=true).
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
    - Raw driver options, passed through to Docker. When given they are compared exactly (keys Docker fills in itself
      are ignored).
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
    - A network used by swarm services is never recreated. In the list form, the top-level value is the default of
      each entry.
    type: bool
    version_added: 0.1.0
  force:
    description:
    - With O(state=absent) (or O(purge=true)), disconnect attached containers, update the swarm services that use
      the network so they leave it, and remove the network.
    - Containers attached on other swarm nodes are not seen from this host; Docker refuses the removal while they
      are there.
    - In the list form, the top-level value is the default of each entry.
    type: bool
    version_added: 0.1.0
  purge:
    description:
      - List form only. Remove the networks of this driver that carry the ownership label
        C(docknet.fabric.managed=true) with this task's O(owner), and are not declared in O(networks).
      - Never touches a network the collection did not create, a network of another O(owner), nor C(bridge),
        C(host), C(none), C(ingress), C(docker_gwbridge).
      - On a host that is not a swarm manager, swarm-wide networks are never purged (they are a manager's to
        remove).
    type: bool
    default: false
    version_added: 0.1.0
  owner:
    description:
      - The ownership scope of the networks this task creates, stored in the label C(docknet.fabric.owner).
        O(purge) removes only networks of the same owner, so two plays, roles or teams on one host never remove
        each other's networks.
      - Networks created before this label existed count as owned by V(default).
      - Set once at creation; a later task with another owner does not recreate the network.
      - A word of letters, digits, C(_), C(.) and C(-), for example a role or team name.
    type: str
    default: default
    version_added: 0.1.0
notes:
  - Every network this collection creates carries the ownership label C(docknet.fabric.managed=true) and its
    owner in C(docknet.fabric.owner); O(purge) only ever removes networks of its own owner.
  - Before the first container is disconnected for a recreation, its endpoints (aliases, static addresses, links,
    driver options) are recorded on the Docker host, in the labels of a volume
    C(docknet-fabric-recreation-<hash>). If the task dies half-way (dockerd killed, controller gone), the next run
    of a task declaring the network finishes the recreation first and reconnects every recorded container; the
    volume is removed once the recreation is complete.
  - A task that fails half-way reports C(changed=true) and, in C(done), the writes Docker had accepted.
  - Every declared subnet is checked before any change against the other networks of the task and the networks
    that exist (the same host for bridge and macvlan, the swarm for overlay).
  - After creating, a network of the same name and settings made at the same time by another run is removed
    (the oldest is kept) and reported in C(duplicates_removed).
  - Docker has no network update API, so any declared difference means recreating the network (see O(recreate)).
  - One listing of the daemon's networks serves the whole task, however many networks it declares.
'''
