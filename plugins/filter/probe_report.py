# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that print network_probe loop results as a reachability matrix and list its unexpected cells."""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._probe_report import matrix_lines, unexpected


def probe_matrix_lines(probes_by_host):
    return matrix_lines(probes_by_host)


def probe_unexpected(probes, host):
    return unexpected(probes, host)


class FilterModule:
    """docknet.fabric.probe_matrix_lines, probe_unexpected."""

    def filters(self):
        return {'probe_matrix_lines': probe_matrix_lines, 'probe_unexpected': probe_unexpected}
