# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: swarm_service's reading of tasks: converged, failed, or still under way.

Pure functions of a service and its task listing: ``convergence`` (polled
while waiting), ``update_in_progress`` (an unchanged service whose last update
has not settled) and ``task_summary`` (what a failure reports of a task).
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._service_spec import JOB_MODES, drop_empty

# --- convergence ---------------------------------------------------------------

_TEMPLATE_IGNORED = ('Runtime',)


def task_is_current(task, template):
    """Whether a task was made from this TaskTemplate (the task's Spec is a copy of it)."""
    spec = task.get('Spec') or {}
    for key in set(spec) | set(template):
        if key in _TEMPLATE_IGNORED:
            continue
        if drop_empty(spec.get(key)) != drop_empty(template.get(key)):
            return False
    return True


def task_summary(task, node_names):
    status = task.get('Status') or {}
    out = {'id': task.get('ID'), 'node': node_names.get(task.get('NodeID'), task.get('NodeID')),
           'slot': task.get('Slot'), 'state': status.get('State'), 'desired_state': task.get('DesiredState'),
           'message': status.get('Message')}
    if status.get('Err'):
        out['error'] = status['Err']
    exit_code = (status.get('ContainerStatus') or {}).get('ExitCode')
    if exit_code:
        out['exit_code'] = exit_code
    return out


FAILED_STATES = ('failed', 'rejected')


def timestamp(text):
    """Docker's RFC 3339 time with 0-9 fraction digits -> a string that sorts in time order."""
    text = (text or '').rstrip('Z')
    whole, dummy, fraction = text.partition('.')
    return whole + '.' + (fraction + '000000000')[:9]


def convergence(service, tasks, node_count=None, rolling_back=False, since=None):
    """('done' | 'failed' | 'pending', why, failed tasks) for a service and its task listing.

    Converged: every task Docker wants running runs the current spec, and
    there are as many as the mode asks for (replicas; one per node for
    global services when ``node_count`` is known). Jobs: the current spec's
    tasks completed. Failed: Docker paused or rolled back the update, or the
    current spec's tasks failed at least as often as there are slots.
    """
    spec = service.get('Spec') or {}
    template = spec.get('TaskTemplate') or {}
    mode = spec.get('Mode') or {'Replicated': {}}
    kind = next(iter(mode), 'Replicated')
    update = (service.get('UpdateStatus') or {})
    state = update.get('State')
    current = [t for t in tasks if task_is_current(t, template)]
    recent = [t for t in current if since is None or timestamp(t.get('CreatedAt')) > timestamp(since)]
    bad = FAILED_STATES if kind in JOB_MODES else FAILED_STATES + ('complete',)
    failed = [t for t in recent if (t.get('Status') or {}).get('State') in bad]
    if rolling_back:
        if state == 'rollback_started':
            return 'pending', 'rollback in progress', []
        if state == 'rollback_paused':
            return 'failed', 'the rollback paused: %s' % update.get('Message'), failed
    elif state == 'paused':
        return 'failed', update.get('Message') or 'update paused', failed
    elif state in ('rollback_started', 'rollback_paused', 'rollback_completed'):
        # Docker rolled back on its own (update_config.failure_action: rollback).
        return 'failed', update.get('Message') or 'rolled back', failed

    if kind in JOB_MODES:
        done = [t for t in current if (t.get('Status') or {}).get('State') == 'complete']
        want = (mode.get('ReplicatedJob') or {}).get('TotalCompletions', 1) if kind == 'ReplicatedJob' else node_count
        if want is not None and len(done) >= want or want is None and done and len(done) == len(current):
            return 'done', 'completed', []
        if failed and len(failed) >= max(1, want or 1):
            return 'failed', 'job tasks failed', failed
        return 'pending', '%d of %s tasks completed' % (len(done), want if want is not None else '?'), failed

    wanted_running = [t for t in tasks if t.get('DesiredState') == 'running']
    running = [t for t in wanted_running if (t.get('Status') or {}).get('State') == 'running' and t in current]
    want = (mode.get('Replicated') or {}).get('Replicas', 1) if kind == 'Replicated' else node_count
    if failed and len(failed) >= max(1, want or 1):
        return 'failed', 'tasks of the new spec failed', failed
    if state == 'updating':
        return 'pending', 'update in progress', failed
    if len(running) == len(wanted_running) and (want is None and running or len(running) == want):
        return 'done', '%d tasks running' % len(running), []
    return 'pending', '%d of %s tasks running the current spec' % (len(running), want if want is not None else '?'), failed


def old_spec_tasks(service, tasks):
    """Tasks Docker still wants running on an older spec: an update under way (or cut short)."""
    template = (service.get('Spec') or {}).get('TaskTemplate') or {}
    return [t for t in tasks if t.get('DesiredState') == 'running' and not task_is_current(t, template)]


def update_in_progress(service, tasks):
    """Why the service is not settled although its spec is what was asked ('' when it is settled)."""
    state = (service.get('UpdateStatus') or {}).get('State')
    if state == 'updating':
        return 'update in progress'
    if state == 'rollback_started':
        return 'rollback in progress'
    if old_spec_tasks(service, tasks):
        return 'tasks still run an older spec'
    return ''


def group_waits(plans):
    """The plans to wait for, by kind: the ones sent, and unchanged ones whose update is still under way."""
    groups = {}
    for plan in plans:
        if plan.get('wait') and (plan.get('sent') or plan['action'] == 'none'):
            groups.setdefault(plan['wait'], []).append(plan['name'])
    return groups
