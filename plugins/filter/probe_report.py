# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that print network_probe loop results as a reachability matrix and list its unexpected cells.

probe_* for playbooks/verify.yml's probes by networks, swarm_policy_* for roles/swarm_policy's probes by member.
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._probe_report import (
    matrix_lines, policy_matrix_lines, policy_targets, policy_unexpected, unexpected)


def probe_matrix_lines(probes_by_host):
    return matrix_lines(probes_by_host)


def probe_unexpected(probes, host):
    return unexpected(probes, host)


def swarm_policy_targets(expected, member, port=0):
    return policy_targets(expected, member, port)


def swarm_policy_matrix_lines(probes_by_host, expected, policy):
    return policy_matrix_lines(probes_by_host, expected, policy)


def swarm_policy_unexpected(probes, host):
    return policy_unexpected(probes, host)


class FilterModule:
    """docknet.fabric.probe_matrix_lines, probe_unexpected, swarm_policy_targets, swarm_policy_matrix_lines, swarm_policy_unexpected."""

    def filters(self):
        return {'probe_matrix_lines': probe_matrix_lines, 'probe_unexpected': probe_unexpected,
                'swarm_policy_targets': swarm_policy_targets, 'swarm_policy_matrix_lines': swarm_policy_matrix_lines,
                'swarm_policy_unexpected': swarm_policy_unexpected}
