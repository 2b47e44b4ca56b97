# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the swarm_networks role decides and checks with: the split of its macvlan networks, what is wrong with its lists."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.docknet.fabric.plugins.module_utils._role_networks import declared_problems, split_macvlan


def swarm_macvlan_split(networks):
    try:
        return split_macvlan(networks)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def swarm_networks_problems(bridge, macvlan=None, attachments=None):
    return declared_problems(bridge, macvlan or [], attachments or [])


class FilterModule:
    """docknet.fabric.swarm_macvlan_split, swarm_networks_problems."""

    def filters(self):
        return {'swarm_macvlan_split': swarm_macvlan_split, 'swarm_networks_problems': swarm_networks_problems}
