# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the options of bridge_network, overlay_network and macvlan_network, written once.

Each option is documented once below; the blocks are put together in Python:
``DOCUMENTATION`` holds the options of every driver in the single form and the
list form's ``purge`` and ``owner``; ``BRIDGE``, ``OVERLAY`` and ``MACVLAN``
hold a driver's own options and the ``networks`` list, whose entries take the
same options again (``name`` required). A module extends
``docknet.fabric._network_options`` and ``docknet.fabric._network_options.<driver>``.
The argument spec says the same in ``plugins/module_utils/_network_spec.py``.
"""

from __future__ import annotations


def _indent(text, spaces):
    return ''.join((' ' * spaces + line if line.strip() else line) for line in text.splitlines(True))


def _options(*blocks):
    """Option blocks (each written at column 0) as the ``options`` of a fragment."""
    return 'options:\n' + _indent(''.join(blocks), 2)


def _networks(*blocks):
    """The ``networks`` list option, whose entries take ``blocks``."""
    return _NETWORKS + _indent('suboptions:\n' + _indent(''.join(blocks), 2), 2)


# ---------------------------------------------------------------- options of every driver

_NAME = r'''
name:
  description:
  - Name of the network.
  - Give either O(name) (one network) or O(networks) (many).
  type: str
  version_added: 0.1.0
'''

_NAME_IN_LIST = r'''
name:
  description:
  - Name of the network.
  type: str
  required: true
  version_added: 0.1.0
'''

_EVERY_DRIVER = r'''
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
'''

_ENABLE_IPV6 = r'''
enable_ipv6:
  description:
  - Enable IPv6 on the network.
  type: bool
  version_added: 0.1.0
'''

_LIST_FORM = r'''
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
'''

_NETWORKS = r'''
networks:
  description:
  - Many networks of this driver, each a dict of the options of the single form (with its own O(networks[].state)).
  - One task converges them all from a single listing of the daemon's networks. Mutually exclusive with O(name).
  type: list
  elements: dict
  version_added: 0.1.0
'''

_NOTES = r'''
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

# ---------------------------------------------------------------- options of one driver

_BRIDGE = r'''
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
'''

# The same option for each address family (the placeholder is the family: 4 or 6).
_GATEWAY_MODE = r'''
gateway_mode_ipv{0}:
  description:
  - How the bridge's IPv{0} gateway forwards (C(com.docker.network.bridge.gateway_mode_ipv{0})); Docker assumes
    V(nat) when not set.
  - V(nat) masquerades and publishes ports; V(routed) gives direct routing to the containers without NAT, only
    published ports being reachable; V(nat-unprotected) is V(nat) without the filter rules that restrict direct
    access; V(isolated) gives the bridge no address on the host (needs O(internal=true)).
  - Needs Docker API 1.46 (Docker 27) for V(nat) and V(routed), 1.48 (Docker 28) for V(nat-unprotected) and
    V(isolated); on an older daemon the task fails before any change.
  type: str
  choices: [nat, nat-unprotected, routed, isolated]
  version_added: 0.1.0
'''

_OVERLAY = r'''
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
vxlan_ids:
  description:
  - 'VXLAN ids, one per subnet (C(com.docker.network.driver.overlay.vxlanid_list)). Compared only when given: Docker
    chooses them otherwise.'
  type: list
  elements: int
  version_added: 0.1.0
'''

_MACVLAN = r'''
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
'''

# Options two drivers share.
_ENABLE_IPV4 = r'''
enable_ipv4:
  description:
  - V(false) makes an IPv6-only network (Docker API 1.48, Docker 28) - containers get no IPv4 address. Needs
    O(enable_ipv6=true) and no IPv4 subnet in O(ipam_config); on an older daemon the task fails before any change.
  - V(true) is what every network has (and all a daemon before API 1.48 knows); a difference recreates the network.
  - Docker refuses it for swarm-scoped networks, so C(overlay_network) has no such option.
  type: bool
  version_added: 0.1.0
'''

_MTU = r'''
mtu:
  description:
  - MTU of the network (C(com.docker.network.driver.mtu)).
  type: int
  version_added: 0.1.0
'''

_ENABLE_IPV6_OVERLAY = r'''
enable_ipv6:
  description:
  - Enable IPv6 on the network. Needs Docker 26 or newer (see the description).
  type: bool
  version_added: 0.1.0
'''

# Every option of each driver.
_BRIDGE_ALL = _BRIDGE + _MTU + _ENABLE_IPV4 + _GATEWAY_MODE.format(4) + _GATEWAY_MODE.format(6)
_OVERLAY_ALL = _OVERLAY + _MTU
_MACVLAN_ALL = _MACVLAN + _ENABLE_IPV4


class ModuleDocFragment:
    """Options of the three network modules; see the module docstring for how they are put together."""


# Put together here rather than in the class body: ansible-test's yamllint reads class-body assignments as literal
# strings, while Ansible itself only reads the class attributes (the unit tests parse and check every block).
ModuleDocFragment.DOCUMENTATION = _options(_NAME, _EVERY_DRIVER, _LIST_FORM) + _NOTES
ModuleDocFragment.BRIDGE = _options(_ENABLE_IPV6, _BRIDGE_ALL,
                                    _networks(_NAME_IN_LIST, _EVERY_DRIVER, _ENABLE_IPV6, _BRIDGE_ALL))
ModuleDocFragment.OVERLAY = _options(_ENABLE_IPV6_OVERLAY, _OVERLAY_ALL,
                                     _networks(_NAME_IN_LIST, _EVERY_DRIVER, _ENABLE_IPV6_OVERLAY, _OVERLAY_ALL))
ModuleDocFragment.MACVLAN = _options(_ENABLE_IPV6, _MACVLAN_ALL,
                                     _networks(_NAME_IN_LIST, _EVERY_DRIVER, _ENABLE_IPV6, _MACVLAN_ALL))
