# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the matrices of network_probe results as text, behind plugins/filter/probe_report.py.

playbooks/verify.yml and roles/swarm_policy (tasks/verify.yml) print these lines, fail on the unexpected cells
and build the policy's probe targets; plain Python instead of Jinja programs, tested by tables (tests/unit/test_probe_report.py).
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


# The same for roles/swarm_policy's verify: probes from each member's networks, named after the members.

def _as_int(value):
    """Like Jinja's int filter: a number or its text, else 0."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


def _member_names(member, unique=False):
    """A member's services and containers, the names a probe tries."""
    names = list(member.get('services') or []) + [c.get('name') for c in member.get('containers') or []]
    return [n for i, n in enumerate(names) if n not in names[:i]] if unique else names


def policy_targets(expected, member, port=0):
    """The probe targets from ``member`` (its name): every name of every member, expected as the policy's matrix says.

    ``expected`` is network_policy's result (its ``matrix`` rows from/to/allowed and ``members``);
    a ``port`` above 0 makes TCP probes on that port, else ICMP.
    """
    port = _as_int(port)
    targets = []
    for row in expected.get('matrix') or []:
        if row.get('from') != member:
            continue
        for other in [m for m in expected.get('members') or [] if m.get('name') == row.get('to')]:
            for name in _member_names(other, unique=True):
                target = {'name': name, 'expect': 'reachable' if row.get('allowed') else 'unreachable'}
                if port > 0:
                    target['port'] = port
                targets.append(target)
    return targets


def policy_matrix_lines(probes_by_host, expected, policy):
    """The policy's matrix as the role prints it: a header, then per host and member its cells by member."""
    members = expected.get('members') or []
    owner = {}
    for member in members:
        for name in _member_names(member):
            owner[name] = member.get('name')
    unprobed = ', '.join(str(m.get('name')) for m in members if not m.get('networks'))
    lines = ['policy %s, %d members; allowed pairs reach both ways; members without a policy network are not probed from: %s'
             % (policy, len(members), unprobed or 'none')]
    for host, probes in (probes_by_host or {}).items():
        for probe in probes or []:
            cells = []
            for result in probe.get('results') or []:
                name = result.get('name')
                cells.append('%s%s=%s%s' % (owner.get(name, name), '' if owner.get(name, '') == name else '(%s)' % name,
                                            'allowed' if result.get('reachable') else 'denied',
                                            '' if result.get('as_expected') else ' (!)'))
            shown = '  '.join(cells) if cells else 'probe failed: %s' % probe.get('msg', '?')
            lines.append('%-8s %-10s -> %s' % (host, (probe.get('item') or {}).get('name'), shown))
    return lines


def policy_unexpected(probes, host):
    """Every cell not as the policy says, as ``host from member: what``, from one host's registered loop ``results``."""
    return ['%s from %s: %s' % (host, (probe.get('item') or {}).get('name'), failure)
            for probe in probes or [] for failure in probe_failures(probe)]
