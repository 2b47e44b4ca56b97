# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the engine of swarm_service, ``run(client, params, check_mode)``.

The cycle, one file per concern:

1. ``_service_args``: the argument spec; ``entries_of`` gives the services of
   one task (the single form, or each entry of ``services``).
2. ``_service_checks``: every check that needs no daemon, before anything.
3. ``_service_plan``: one ``ServicePlan`` per service from one listing
   (``_service_spec`` builds, merges and compares the specs); every refusal
   happens there, before the first write.
4. ``Applier``: the writes, through the one ``Writer`` (check mode sends
   nothing; a failure reports what was done), removals first.
5. ``Waiter``: with ``wait``, ``convergence`` (``_service_tasks``) is polled
   for every service together until each is done, failed or out of time;
   ``rollback_on_failure`` then asks Docker to roll back to the previous spec.
6. ``Reporter``: the result, or one error line that says what was done.
"""

from __future__ import annotations

import time

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._service_args import entries_of
from ansible_collections.docknet.fabric.plugins.module_utils._service_checks import validate_params
from ansible_collections.docknet.fabric.plugins.module_utils._service_plan import (
    CONVERGE,
    CREATE,
    IN_PROGRESS,
    NONE,
    PAUSED,
    REMOVAL,
    REMOVE,
    UPDATE,
    Lookup,
    Planner,
    ServicePlan,
    find_service,
)
from ansible_collections.docknet.fabric.plugins.module_utils._service_spec import normalise
from ansible_collections.docknet.fabric.plugins.module_utils._service_tasks import convergence, task_summary
from ansible_collections.docknet.fabric.plugins.module_utils._wait import Clock, wait_until
from ansible_collections.docknet.fabric.plugins.module_utils._writer import Writer

# The label Docker puts on a task's container: which service it belongs to.
SERVICE_ID_LABEL = 'com.docker.swarm.service.id'
# Task states in which a node runs, or may still start, the task's container.
LIVE_TASK_STATES = ('new', 'pending', 'assigned', 'accepted', 'ready', 'preparing', 'starting', 'running')


class Applier:
    """Sends every write before any wait: removals first (they free ports and names), then updates, then creates."""

    def __init__(self, writer):
        self.writer = writer

    def apply(self, plans):
        """Stops at the first refusal and returns that plan; the services after it are left untouched."""
        for plan in sorted((p for p in plans if p.action is not NONE), key=lambda p: p.action.order):
            try:
                plan.action.send(self.writer, plan)
            except FabricError as exc:
                plan.error = exc.msg
                return plan
            plan.sent = True
        return None


def removal_outcome(plan, tasks, containers):
    """'done' once a removed service holds no network endpoint any more, else None (and why)."""
    # Gone from every network: no task of it that a node still runs (or may start), and no
    # container of it still running here. Finished tasks (a job's) may stay listed a while.
    live = [t for t in tasks if (t.get('Status') or {}).get('State') in LIVE_TASK_STATES]
    local = [c for c in containers if (c.get('Labels') or {}).get(SERVICE_ID_LABEL) == plan.id]
    if not live and not local:
        return 'done'
    plan.why = '%d task(s) still running or starting, %d container(s) still running on this node' % (
        len(live), len(local))
    return None


def convergence_outcome(plan, service, tasks, node_count):
    """A waited service's outcome from one listing (None while pending); keeps its last state on the plan."""
    if service is None:
        plan.why, plan.failed = 'the service was removed meanwhile', []
        return 'failed'
    plan.last = service
    placement = (service['Spec'].get('TaskTemplate') or {}).get('Placement') or {}
    count = None if placement.get('Constraints') else node_count
    outcome, plan.why, plan.failed = convergence(service, tasks, count, plan.rolling_back, plan.since)
    plan.tasks = tasks
    return None if outcome == 'pending' else outcome


class Waiter:
    """Waits for every sent (or still updating) service together, and rolls back failed updates when asked."""

    POLL = 1.0

    def __init__(self, client, writer, clock):
        self.client = client
        self.writer = writer
        self.clock = clock
        self.node_names = {}

    def _nodes(self):
        nodes = self.client.call('listing nodes', self.client.api.nodes)
        self.node_names = dict((n['ID'], (n.get('Description') or {}).get('Hostname') or n['ID']) for n in nodes)
        ready = [n for n in nodes if (n.get('Status') or {}).get('State') == 'ready'
                 and (n.get('Spec') or {}).get('Availability') == 'active']
        return len(ready)

    def wait(self, plans):
        waiting = [p for p in plans if p.waited]
        if not waiting:
            return
        node_count = self._nodes() if any(p.wait != REMOVAL for p in waiting) else 0
        start = self.clock.now()
        for plan in waiting:
            plan.deadline = start + plan.timeout
        self._poll(waiting, node_count)
        rollbacks = [r for r in (self._roll_back(p) for p in waiting) if r]
        if rollbacks:
            self._poll(rollbacks, node_count)

    def _roll_back(self, plan):
        """Ask Docker to roll back a failed update (rollback_on_failure); the rollback's plan to wait for."""
        if plan.wait == REMOVAL or plan.outcome == 'done':
            return None
        state = ((plan.last or {}).get('UpdateStatus') or {}).get('State', '')
        plan.docker_rolled_back = state.startswith('rollback') and not plan.rolling_back
        if not (plan.entry.get('rollback_on_failure') and plan.previous is not None
                and not plan.docker_rolled_back and plan.last):
            return None
        service = plan.last
        plan.rollback = ServicePlan(plan.name, plan.entry, wait=CONVERGE, rolling_back=True,
                                    since=service.get('UpdatedAt'), service_id=plan.id)
        try:
            self.writer.post('rolling back service %s' % plan.name, '/services/{0}/update', service['Spec'],
                             {'version': service['Version']['Index'], 'rollback': 'previous'}, plan.id)
        except FabricError as exc:
            plan.rollback.outcome, plan.rollback.why = 'failed', exc.msg
            return None
        plan.rollback.deadline = self.clock.now() + plan.timeout
        return plan.rollback

    def _poll(self, plans, node_count):
        """Poll all ``plans`` together until each is done, failed or out of time.

        Each round reads one listing of services and one of tasks (and, while
        removals are waited for, one of this node's task containers), whatever
        the number of services: ten services wait about as long as the slowest.
        """
        pending = [list(plans)]

        def round_done():
            pending[0] = self._round(pending[0], node_count)
            return not pending[0]

        # Every plan ends by its own deadline (outcome 'timeout'), so this outer limit is never reached.
        limit = max(p.deadline for p in plans) - self.clock.now() + self.POLL
        wait_until(round_done, limit, 'services to converge', step=self.POLL, clock=self.clock)

    def _round(self, pending, node_count):
        """One listing of services and tasks; the plans still pending after it."""
        services = dict((s['ID'], s) for s in self.client.call('listing services', self.client.api.services))
        if any(p.wait == REMOVAL for p in pending):
            # A removed service's tasks cannot be filtered by its id any more: list them all.
            tasks = self.client.call('listing tasks', self.client.api.tasks)
            # Running ones only: a stopped container holds no endpoint on any network.
            containers = self.client.call('listing the task containers of this node', self.client.api.containers,
                                          filters={'label': SERVICE_ID_LABEL})
        else:
            tasks = self.client.call('listing tasks', self.client.api.tasks,
                                     filters={'service': [p.id for p in pending]})
            containers = []
        by_service = {}
        for task in tasks:
            by_service.setdefault(task.get('ServiceID'), []).append(task)
        still = []
        for plan in pending:
            mine = by_service.get(plan.id, [])
            if plan.wait == REMOVAL:
                outcome = removal_outcome(plan, mine, containers)
            else:
                outcome = convergence_outcome(plan, services.get(plan.id), mine, node_count)
            if outcome is None and self.clock.now() >= plan.deadline:
                outcome = 'timeout'
            if outcome is None:
                still.append(plan)
            else:
                plan.outcome = outcome
        return still


class Reporter:
    """The result of the task, or one error line per service that failed, saying what was done."""

    def __init__(self, node_names, check_mode):
        self.node_names = node_names
        self.check_mode = check_mode

    def failure(self, plan):
        """The one-line message of a service that did not converge, or None when it did."""
        who = plan.who
        if plan.error:
            return '%s: %s' % (who, plan.error)
        if plan.outcome in (None, 'done'):
            return None
        if plan.wait == REMOVAL:
            return ('%s: removed, but not gone within wait_timeout=%ss (%s); raise wait_timeout or look at the '
                    'nodes of those tasks.' % (who, plan.timeout, plan.why))
        failed = [task_summary(t, self.node_names) for t in plan.failed or []]
        why = plan.why
        if plan.outcome == 'timeout':
            pending = [task_summary(t, self.node_names) for t in plan.tasks or []
                       if t.get('DesiredState') == 'running' and (t.get('Status') or {}).get('State') != 'running']
            failed += [t for t in pending if t not in failed]
            why = 'not converged within wait_timeout=%ss (%s)' % (plan.timeout, why)
        plan.failed_tasks = failed
        errors = '; '.join('%s slot %s: %s' % (t['node'], t['slot'], t.get('error') or t.get('message') or t['state'])
                           for t in failed[:5]) or 'no task error reported'
        plan.rolled_back = bool(plan.docker_rolled_back) or bool(plan.rollback and plan.rollback.outcome == 'done')
        if plan.docker_rolled_back:
            return ('%s: the update failed and Docker rolled it back (update_config.failure_action: rollback): %s. '
                    'Task errors: %s' % (who, why, errors))
        if plan.rollback:
            state = ('rolled back to the previous spec' if plan.rolled_back else
                     'the rollback to the previous spec did not converge either (%s)' % plan.rollback.why)
            return '%s: the update failed: %s. Task errors: %s. %s.' % (who, why, errors, state[0].upper() + state[1:])
        what = {CONVERGE: 'creation' if plan.action is CREATE else 'update', PAUSED: 'update',
                IN_PROGRESS: 'update already in progress'}[plan.wait]
        hint = '' if plan.previous is None else ' Set rollback_on_failure: true to roll back automatically.'
        return '%s: the %s did not converge: %s. Task errors: %s.%s' % (who, what, why, errors, hint)

    def service_result(self, plan):
        out = {'name': plan.name, 'action': plan.action.name, 'changes': plan.changes}
        if plan.in_progress:
            out['in_progress'] = plan.in_progress
        if plan.outcome and plan.wait != REMOVAL:
            out['converged'] = plan.outcome == 'done'
        if plan.failed_tasks is not None:
            out['failed_tasks'] = plan.failed_tasks
        if plan.rolled_back is not None:
            out['rolled_back'] = plan.rolled_back
        if plan.error or (plan.action is not NONE and not plan.sent and not self.check_mode):
            out['untouched'] = not plan.sent
        return out

    def report_list(self, plans, failures, refused, wrote):
        changed = [p for p in plans if p.action is not NONE and (p.sent or self.check_mode)]
        result = {
            'changed': bool(changed) or wrote,
            'actions': ['%s %s' % (p.action.name, p.name) for p in changed],
            'services': [self.service_result(p) for p in plans],
            'diff': {'before': dict((p.name, p.before or None) for p in changed),
                     'after': dict((p.name, p.after or None) for p in changed)},
        }
        if failures:
            done = ['%s (%s)' % (p.name, p.action.name) for p in changed if not self.failure(p)]
            untouched = [p.name for p in plans if p.action is not NONE and not p.sent and p is not refused]
            tail = ''
            if done:
                tail += ' Done: %s.' % ', '.join(done)
            if untouched:
                tail += ' Not touched: %s.' % ', '.join(untouched)
            raise FabricError(' | '.join(failures) + tail, **result)
        return result

    def report_one(self, plan, failures, wrote):
        """The single form's result, as swarm_service has always returned it (without the final read)."""
        result = {'changed': False, 'actions': [], 'changes': []}
        if plan.action is not NONE:
            result.update(changed=True, actions=[plan.action.name], changes=plan.changes)
        if plan.action is REMOVE:
            result['diff'] = {'before': plan.before, 'after': {}}
        elif plan.after is not None:
            result['diff'] = {'before': plan.before, 'after': plan.after}
            result['spec'] = plan.after
        if plan.in_progress:
            result['in_progress'] = plan.in_progress
        if plan.outcome and plan.wait != REMOVAL:
            result['converged'] = plan.outcome == 'done'
        if failures:
            details = dict(result, failed_tasks=plan.failed_tasks or [], rolled_back=bool(plan.rolled_back))
            if plan.rollback:
                details['changed'] = True
                details['diff'] = {'before': plan.before, 'after': plan.before}
            if plan.error:
                details.pop('failed_tasks')
                details.pop('rolled_back')
                details['changed'] = wrote
            raise FabricError(failures[0], **details)
        return result


class ServicesEngine:
    """One run of swarm_service: every service of the task planned from one listing, written, then waited for together."""

    def __init__(self, client, entries, check_mode=False, sleep=time.sleep, clock=time.monotonic, list_form=False):
        self.client = client
        self.entries = entries
        self.check_mode = check_mode
        self.list_form = list_form
        self.clock = Clock(now=clock, sleep=sleep)
        self.writer = Writer(client, check_mode)
        self.lookup = Lookup(client)

    def run(self):
        # A FabricError leaves carrying what was done (``changed``, ``done``).
        with self.writer.reporting():
            return self._run()

    def _run(self):
        for entry in self.entries:
            validate_params(entry)
        services = self.client.call('listing services', self.client.api.services)
        self.lookup.list_for(self.entries, services)
        running = []
        if any(e['state'] == 'present' and find_service(services, e['name']) for e in self.entries):
            # One listing serves every unchanged service: is an update of it still under way?
            running = self.client.call('listing tasks', self.client.api.tasks, filters={'desired-state': 'running'})
        # Every refusal happens here, before the first write.
        planner = Planner(self.client, self.lookup, services, running)
        plans = [planner.plan(entry) for entry in self.entries]
        planner.check_ports(plans)
        refused = None
        waiter = Waiter(self.client, self.writer, self.clock)
        if not self.check_mode:
            refused = Applier(self.writer).apply(plans)
            waiter.wait(plans)
        reporter = Reporter(waiter.node_names, self.check_mode)
        failures = [m for m in (reporter.failure(p) for p in plans) if m]
        wrote = bool(self.writer.done)
        if self.list_form:
            return reporter.report_list(plans, failures, refused, wrote)
        return self._read_back(plans[0], reporter.report_one(plans[0], failures, wrote))

    def _read_back(self, plan, result):
        """The single form returns the service as Docker has it after the task."""
        if plan.action in (CREATE, UPDATE) and not self.check_mode:
            result['service'] = self.client.call('reading service %s' % plan.name,
                                                 self.client.api.inspect_service, plan.id)
            result['spec'] = self.lookup.display(normalise(result['service']['Spec']))
        elif plan.action is NONE and plan.service:
            result['service'] = plan.service
        return result


def run(client, params, check_mode=False):
    entries, list_form = entries_of(params)
    return ServicesEngine(client, entries, check_mode=check_mode, list_form=list_form).run()
