# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: swarm_service's argument spec and its two forms (one service, or ``services``).
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError

# Top-level options of the list form that are the default of each entry.
INHERITED = ('state', 'wait', 'wait_timeout', 'rollback_on_failure')


# --- the argument spec ------------------------------------------------------------

def _rollout_options():
    return dict(
        parallelism=dict(type='int'),
        delay=dict(type='str'),
        failure_action=dict(type='str', choices=['continue', 'pause', 'rollback']),
        monitor=dict(type='str'),
        max_failure_ratio=dict(type='float'),
        order=dict(type='str', choices=['stop-first', 'start-first']),
    )


def _ref_options():
    return dict(
        name=dict(type='str', required=True),
        target=dict(type='str'),
        uid=dict(type='str'),
        gid=dict(type='str'),
        mode=dict(type='int'),
    )


def service_options_spec():
    """The options that describe one service (the single form, and each entry of ``services``)."""
    return dict(
        mode=dict(type='str', choices=['replicated', 'global', 'replicated-job', 'global-job']),
        replicas=dict(type='int'),
        image=dict(type='str'),
        command=dict(type='raw'),
        args=dict(type='raw'),
        env=dict(type='raw'),
        labels=dict(type='dict'),
        container_labels=dict(type='dict'),
        hostname=dict(type='str'),
        user=dict(type='str'),
        workdir=dict(type='str'),
        init=dict(type='bool'),
        networks=dict(type='list', elements='raw'),
        endpoint_mode=dict(type='str', choices=['vip', 'dnsrr']),
        ports=dict(type='list', elements='dict', options=dict(
            published=dict(type='int'),
            target=dict(type='int', required=True),
            protocol=dict(type='str', choices=['tcp', 'udp', 'sctp'], default='tcp'),
            mode=dict(type='str', choices=['ingress', 'host'], default='ingress'),
        )),
        constraints=dict(type='list', elements='str'),
        preferences=dict(type='list', elements='str'),
        max_replicas_per_node=dict(type='int'),
        restart_policy=dict(type='dict', options=dict(
            condition=dict(type='str', choices=['none', 'on-failure', 'any']),
            delay=dict(type='str'),
            max_attempts=dict(type='int'),
            window=dict(type='str'),
        )),
        update_config=dict(type='dict', options=_rollout_options()),
        rollback_config=dict(type='dict', options=_rollout_options()),
        resources=dict(type='dict', options=dict(
            limits=dict(type='dict', options=dict(cpus=dict(type='float'), memory=dict(type='str'),
                                                  pids=dict(type='int'))),
            reservations=dict(type='dict', options=dict(cpus=dict(type='float'), memory=dict(type='str'))),
        )),
        healthcheck=dict(type='dict', options=dict(
            test=dict(type='raw'),
            interval=dict(type='str'),
            timeout=dict(type='str'),
            retries=dict(type='int'),
            start_period=dict(type='str'),
        )),
        mounts=dict(type='list', elements='dict', options=dict(
            source=dict(type='str'),
            target=dict(type='str', required=True),
            type=dict(type='str', choices=['bind', 'volume', 'tmpfs'], default='volume'),
            readonly=dict(type='bool', default=False),
        )),
        # Names of swarm secrets, never their content.
        secrets=dict(type='list', elements='dict', options=_ref_options(), no_log=False),
        configs=dict(type='list', elements='dict', options=_ref_options()),
        stop_signal=dict(type='str'),
        stop_grace_period=dict(type='str'),
        dns=dict(type='list', elements='str'),
        dns_search=dict(type='list', elements='str'),
        dns_options=dict(type='list', elements='str'),
    )


SERVICE_OPTIONS = tuple(service_options_spec())


def argument_spec(connection_spec):
    """swarm_service's whole argument spec: connection options, one service, or ``services``."""
    spec = dict(connection_spec)
    spec.update(service_options_spec())
    spec.update(
        name=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=120),
        rollback_on_failure=dict(type='bool', default=False),
    )
    element = service_options_spec()
    # No defaults in the entries: what an entry leaves out comes from the top level.
    element.update(
        name=dict(type='str', required=True),
        state=dict(type='str', choices=['present', 'absent']),
        wait=dict(type='bool'),
        wait_timeout=dict(type='int'),
        rollback_on_failure=dict(type='bool'),
    )
    spec['services'] = dict(type='list', elements='dict', options=element)
    return spec


MODULE_KWARGS = dict(
    mutually_exclusive=[('name', 'services')],
    required_one_of=[('name', 'services')],
    supports_check_mode=True,
)


def entries_of(params):
    """The services of one task: the single form as one entry, or each entry of ``services``.

    In the list form the top-level ``state``, ``wait``, ``wait_timeout`` and
    ``rollback_on_failure`` are the default of every entry; the other service
    options belong in the entries. Returns (entries, list_form).
    """
    if params.get('services') is None:
        return [params], False
    given = [key for key in SERVICE_OPTIONS if params.get(key) is not None]
    if params.get('name') is not None or given:
        raise FabricError('swarm_service: with services, give %s inside each entry; only %s apply to every entry '
                          'from the top level.' % (', '.join((['name'] if params.get('name') is not None else []) + given),
                                                   ', '.join(INHERITED)))
    entries, seen = [], set()
    for item in params['services']:
        entry = dict(item)
        for key in INHERITED:
            if entry.get(key) is None:
                entry[key] = params.get(key)
        if entry.get('name') in seen:
            raise FabricError('swarm_service: services lists %s twice; give each service once.' % entry['name'])
        seen.add(entry.get('name'))
        entries.append(entry)
    return entries, True
