# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the roles decide with: what is wrong with the play's hosts, the bootstrap plan, each host's membership from one listing, the live manager,
the nodes whose role or labels need setting.

And the two swarm_cluster checks and prints after the changes: the hosts missing from the swarm, the node lines;
swarm_services' lines of its services.
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._role_logic import (
    bootstrap_plan, host_problems, live_manager, memberships_from_listing, node_lines, nodes_missing, nodes_to_set, service_lines)


def swarm_host_problems(hosts, selves, managers, workers, managers_group='swarm_managers', workers_group='swarm_workers'):
    return host_problems(hosts, selves, managers, workers, managers_group, workers_group)


def swarm_bootstrap_plan(hosts, infos, managers, addrs=None, excluded=None, managers_group='', listen_port=2377):
    return bootstrap_plan(hosts, infos, managers, addrs or {}, excluded or [], managers_group, listen_port)


def swarm_memberships_from_listing(wanted, first_host, first):
    return memberships_from_listing(wanted, first_host, first)


def swarm_live_manager(hosts, infos, preferred=None):
    return live_manager(hosts, infos, preferred or [])


def swarm_nodes_to_set(wanted, nodes):
    return nodes_to_set(wanted, nodes)


def swarm_nodes_missing(wanted, nodes):
    return nodes_missing(wanted, nodes)


def swarm_node_lines(nodes):
    return node_lines(nodes)


def swarm_service_lines(declared, outcomes=None):
    return service_lines(declared, outcomes or [])


class FilterModule:
    """docknet.fabric.swarm_host_problems, swarm_bootstrap_plan, swarm_memberships_from_listing, swarm_live_manager, swarm_nodes_to_set,
    swarm_nodes_missing, swarm_node_lines, swarm_service_lines."""

    def filters(self):
        return {'swarm_host_problems': swarm_host_problems, 'swarm_bootstrap_plan': swarm_bootstrap_plan,
                'swarm_memberships_from_listing': swarm_memberships_from_listing,
                'swarm_live_manager': swarm_live_manager, 'swarm_nodes_to_set': swarm_nodes_to_set,
                'swarm_nodes_missing': swarm_nodes_missing, 'swarm_node_lines': swarm_node_lines,
                'swarm_service_lines': swarm_service_lines}
