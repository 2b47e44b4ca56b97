# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the roles decide with: the live manager, the nodes whose role or labels need setting."""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._role_logic import (
    live_manager,
    memberships_from_listing,
    nodes_to_set,
)


def swarm_live_manager(hosts, infos, preferred=None):
    return live_manager(hosts, infos, preferred or [])


def swarm_nodes_to_set(wanted, nodes):
    return nodes_to_set(wanted, nodes)


def swarm_memberships_from_listing(wanted, first_host, first):
    return memberships_from_listing(wanted, first_host, first)


class FilterModule:
    """docknet.fabric.swarm_live_manager, swarm_nodes_to_set, swarm_memberships_from_listing."""

    def filters(self):
        return {'swarm_live_manager': swarm_live_manager, 'swarm_nodes_to_set': swarm_nodes_to_set,
                'swarm_memberships_from_listing': swarm_memberships_from_listing}
