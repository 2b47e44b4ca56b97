# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the reachability matrix of network_probe results as text, behind plugins/filter/probe_report.py.

playbooks/verify.yml prints these lines and fails on the unexpected cells; plain Python instead of
Jinja programs, so the text is tested by a table (tests/unit/test_probe_report.py).
"""

from __future__ import annotations


def _cell(result):
    """One target of one probe: ``web:80=reached``, with `` (!)`` when that is not what was expected."""
    port = ':%s' % result['port'] if result.get('port') else ''
    return '%s%s=%s%s' % (result.get('name'), port, 'reached' if result.get('reachable') else 'blocked',
                          '' if result.get('as_expected') else ' (!)')


def _networks(probe):
    return '+'.join(str(network) for network in (probe.get('item') or {}).get('networks') or [])


def matrix_lines(probes_by_host):
    """One line per host and probe (a loop result of network_probe): host, its networks, every target's cell.

    ``probes_by_host`` maps each host, in the play's order, to its registered loop's ``results``.
    """
    lines = []
    for host, probes in (probes_by_host or {}).items():
        for probe in probes or []:
            cells = [_cell(result) for result in probe.get('results') or []]
            lines.append('%-8s %-12s %s' % (host, _networks(probe), '  '.join(cells)))
    return lines


def probe_failures(probe):
    """The probe's unexpected targets, or the one reason it failed without results (a failed loop item)."""
    if 'unexpected' in probe:
        return probe['unexpected']
    if probe.get('failed', False):
        return ['probe failed: %s' % probe.get('msg', 'no result')]
    return []


def unexpected(probes, host):
    """Every cell not as expected, as ``host networks: what``, from one host's registered loop ``results``."""
    return ['%s %s: %s' % (host, _networks(probe), failure) for probe in probes or [] for failure in probe_failures(probe)]
