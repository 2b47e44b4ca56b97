# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the one table of Docker API versions that options of this collection need.

Every module asks this table before it sends anything, so a user of an old
daemon (or of a pinned ``api_version``) learns which option to drop instead of
reading a 400 from the daemon half-way through a change.
"""

from __future__ import annotations

# feature key -> (minimal API version, what the user wrote to need it)
API_GATES = {
    'network.config_only': ('1.30', 'config_only'),
    'network.config_from': ('1.30', 'config_from'),
    'network.ingress': ('1.29', 'ingress'),
    'endpoint.mac_address': ('1.44', 'mac_address'),
    'endpoint.driver_opts': ('1.32', 'driver_opts'),
    'endpoint.gw_priority': ('1.48', 'gw_priority'),
    'network.enable_ipv4': ('1.48', 'enable_ipv4: false (an IPv6-only network)'),
    'network.gateway_mode': ('1.46', 'gateway_mode_ipv4 / gateway_mode_ipv6'),
    'network.gateway_mode_28': ('1.48', 'gateway_mode_ipv4 / gateway_mode_ipv6 nat-unprotected or isolated'),
    'swarm.default_addr_pool': ('1.39', 'default_addr_pool'),
    'swarm.subnet_size': ('1.39', 'subnet_size'),
    'swarm.data_path_port': ('1.40', 'data_path_port'),
    'swarm.data_path_addr': ('1.30', 'data_path_addr'),
    'service.max_replicas_per_node': ('1.40', 'max_replicas_per_node'),
    'service.init': ('1.37', 'init'),
    'service.job_mode': ('1.41', 'mode: replicated-job / global-job'),
    'service.rollback_config': ('1.28', 'rollback_config'),
}


def parse_version(text):
    """'1.41' -> (1, 41). Docker API versions are always MAJOR.MINOR."""
    try:
        major, minor = str(text).strip().split('.')[:2]
        return int(major), int(minor)
    except (ValueError, AttributeError):
        raise ValueError('%r is not a Docker API version (expected a form like 1.41)' % (text,))


def version_at_least(have, need):
    return parse_version(have) >= parse_version(need)


def gate_failure(feature, speaks, who='module', speaks_source='the daemon'):
    """Return the message for a feature the connection's API version is too old for, or None.

    ``speaks`` is the API version the connection uses; ``speaks_source`` says
    where that number comes from (the daemon, or a pinned ``api_version``).
    """
    need, label = API_GATES[feature]
    if version_at_least(speaks, need):
        return None
    return ('%s: option %s needs Docker API >= %s, %s speaks %s. Upgrade the Docker engine, '
            'or leave the option out.' % (who, label, need, speaks_source, speaks))
