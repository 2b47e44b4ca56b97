# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the argument spec of bridge_network, overlay_network and macvlan_network.

The options every network takes, the ones of each driver, and the list form
(``networks``, ``purge``, ``owner``). The modules' DOCUMENTATION says the same
(``plugins/doc_fragments/_network_options.py``); ansible-test sanity checks
that both agree.
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._network_model import (
    DEFAULT_OWNER,
    GATEWAY_MODES,
    MACVLAN_MODES,
)

_POOL_SPEC = dict(
    subnet=dict(type='str', required=True),
    gateway=dict(type='str'),
    ip_range=dict(type='str', aliases=['iprange']),
    aux_addresses=dict(type='dict'),
)

_DRIVER_SPECS = {
    'bridge': dict(
        bridge_name=dict(type='str'),
        enable_icc=dict(type='bool'),
        enable_ip_masquerade=dict(type='bool'),
        host_binding_ipv4=dict(type='str'),
        mtu=dict(type='int'),
        gateway_mode_ipv4=dict(type='str', choices=list(GATEWAY_MODES)),
        gateway_mode_ipv6=dict(type='str', choices=list(GATEWAY_MODES)),
        enable_ipv4=dict(type='bool'),
    ),
    'overlay': dict(
        encrypted=dict(type='bool'),
        ingress=dict(type='bool'),
        mtu=dict(type='int'),
        vxlan_ids=dict(type='list', elements='int'),
    ),
    'macvlan': dict(
        parent=dict(type='str'),
        macvlan_mode=dict(type='str', choices=list(MACVLAN_MODES)),
        enable_ipv4=dict(type='bool'),
        config_only=dict(type='bool'),
        config_from=dict(type='str'),
    ),
}


def network_spec(driver):
    """The options of one network (the single form, and each entry of ``networks``)."""
    spec = dict(
        name=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent']),
        ipam_config=dict(type='list', elements='dict', options=_POOL_SPEC),
        ipam_driver=dict(type='str'),
        ipam_options=dict(type='dict'),
        enable_ipv6=dict(type='bool'),
        internal=dict(type='bool'),
        attachable=dict(type='bool'),
        labels=dict(type='dict'),
        options=dict(type='dict', aliases=['driver_options']),
        recreate=dict(type='bool'),
        force=dict(type='bool'),
    )
    spec.update(_DRIVER_SPECS[driver])
    return spec


def network_argument_spec(driver, connection_spec):
    """The whole argument spec of ``<driver>_network``: connection options, one network, or ``networks``."""
    spec = dict(connection_spec)
    spec.update(network_spec(driver))
    element = network_spec(driver)
    element['name']['required'] = True
    spec['networks'] = dict(type='list', elements='dict', options=element)
    spec['purge'] = dict(type='bool', default=False)
    spec['owner'] = dict(type='str', default=DEFAULT_OWNER)
    return spec


MODULE_KWARGS = dict(
    mutually_exclusive=[('name', 'networks')],
    required_one_of=[('name', 'networks')],
    supports_check_mode=True,
)
