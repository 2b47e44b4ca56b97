# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn network_info results into a topology model and render it (Mermaid, DOT)."""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._topology import build_model, to_dot, to_mermaid


def topology_model(hosts, matrix=None):
    return build_model(hosts, matrix)


class FilterModule:
    """docknet.fabric.topology_model, topology_mermaid, topology_dot."""

    def filters(self):
        return {'topology_model': topology_model, 'topology_mermaid': to_mermaid, 'topology_dot': to_dot}
