/** Bodies the intake routes take, as their senders write them, for the tests of several files. */

/** An Alertmanager webhook body (version 4, as Alertmanager sends it) around the given alerts. */
export const webhookBody = (alerts: unknown[], over: Record<string, unknown> = {}) => ({
  receiver: 'alarm-center',
  status: 'firing',
  alerts,
  groupLabels: { alertname: 'HostDown' },
  commonLabels: { alertname: 'HostDown' },
  commonAnnotations: {},
  externalURL: 'http://alertmanager:9093',
  version: '4',
  groupKey: '{}:{alertname="HostDown"}',
  truncatedAlerts: 0,
  ...over,
});
