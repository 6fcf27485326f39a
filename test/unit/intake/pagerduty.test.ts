import { expect } from 'chai';
import { MAX_FIELDS_BYTES } from '../../../src/alarm/model.js';
import { INVALID_EVENT_MESSAGE, parsePagerDutyEvent, type PagerDutyOptions } from '../../../src/intake/pagerduty.js';

const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';

/** Options whose dedup keys are numbered, so a test can tell which one was made. */
function options(): PagerDutyOptions & { made: number } {
  const opts = {
    made: 0,
    defaultId: 'PagerDuty',
    newDedupKey: () => {
      opts.made += 1;
      return `generated-${opts.made}`;
    },
  };
  return opts;
}

/** PagerDuty's documented trigger example. */
const trigger = (over: Record<string, unknown> = {}, payload: Record<string, unknown> = {}) => ({
  payload: {
    summary: 'Example alert on host1.example.com',
    timestamp: '2015-07-17T08:42:58.315+0000',
    source: 'monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003',
    severity: 'info',
    component: 'postgres',
    group: 'prod-datapipe',
    class: 'deploy',
    custom_details: { 'ping time': '1500ms', 'load avg': 0.75 },
    ...payload,
  },
  routing_key: ROUTING_KEY,
  dedup_key: 'samplekeyhere',
  images: [{ src: 'https://www.pagerduty.com/logo.png', href: 'https://example.com/', alt: 'Example text' }],
  links: [{ href: 'https://example.com/', text: 'Link text' }],
  event_action: 'trigger',
  client: 'Sample Monitoring Service',
  client_url: 'https://monitoring.example.com',
  ...over,
});

/** The errors of an event that must be refused. */
function errorsOf(body: unknown): string[] {
  const result = parsePagerDutyEvent(body, options());
  if (result.ok) throw new Error('the event was accepted');
  expect(result.message).to.equal(INVALID_EVENT_MESSAGE);
  return result.errors;
}

describe('parsePagerDutyEvent', () => {
  describe('a trigger', () => {
    it('raises the alarm class / dedup_key with the event in its fields, without expiry', () => {
      const result = parsePagerDutyEvent(trigger(), options());

      expect(result).to.deep.equal({
        ok: true,
        dedupKey: 'samplekeyhere',
        routingKey: ROUTING_KEY,
        op: {
          kind: 'raise',
          id: 'deploy',
          source: 'samplekeyhere',
          severity: 'indeterminate',
          fields: {
            detail: 'Example alert on host1.example.com',
            source: 'monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003',
            timestamp: '2015-07-17T08:42:58.315+0000',
            component: 'postgres',
            group: 'prod-datapipe',
            class: 'deploy',
            custom_details: { 'ping time': '1500ms', 'load avg': 0.75 },
            links: [{ href: 'https://example.com/', text: 'Link text' }],
            images: [{ src: 'https://www.pagerduty.com/logo.png', href: 'https://example.com/', alt: 'Example text' }],
            client: 'Sample Monitoring Service',
            client_url: 'https://monitoring.example.com',
          },
        },
      });
    });

    it('raises the default id when the class is absent or no alarm id', () => {
      const ids = [trigger({}, { class: undefined }), trigger({}, { class: 'ping failure' }), trigger({}, { class: 'x'.repeat(129) })].map((body) => {
        const result = parsePagerDutyEvent(body, options());
        return result.ok && result.op.id;
      });

      expect(ids).to.deep.equal(['PagerDuty', 'PagerDuty', 'PagerDuty']);
    });

    it('maps critical → critical, error → major, warning → warning, info → indeterminate', () => {
      const severities = ['critical', 'error', 'warning', 'info'].map((severity) => {
        const result = parsePagerDutyEvent(trigger({}, { severity }), options());
        return result.ok && result.op.kind === 'raise' && result.op.severity;
      });

      expect(severities).to.deep.equal(['critical', 'major', 'warning', 'indeterminate']);
    });

    it('makes a dedup key for a trigger sent without one, or with a blank one, and answers it', () => {
      for (const dedup_key of [undefined, '', '  ']) {
        const opts = options();
        const result = parsePagerDutyEvent(trigger({ dedup_key }), opts);

        expect(opts.made).to.equal(1);
        expect(result).to.deep.include({ ok: true, dedupKey: 'generated-1' });
        expect(result.ok && result.op.source).to.equal('generated-1');
      }
    });

    it('makes no dedup key when one is sent', () => {
      const opts = options();

      parsePagerDutyEvent(trigger(), opts);

      expect(opts.made).to.equal(0);
    });

    it('keeps only the required fields of a minimal trigger', () => {
      const body = { routing_key: 'k', event_action: 'trigger', payload: { summary: 's', source: 'host1', severity: 'critical' } };

      const result = parsePagerDutyEvent(body, options());

      expect(result.ok && result.op).to.deep.equal({ kind: 'raise', id: 'PagerDuty', source: 'generated-1', severity: 'critical', fields: { detail: 's', source: 'host1' } });
    });

    it('keeps custom_details of any JSON type', () => {
      const result = parsePagerDutyEvent(trigger({}, { custom_details: 'free text' }), options());

      expect(result.ok && result.op.kind === 'raise' && result.op.fields?.custom_details).to.equal('free text');
    });
  });

  describe('an acknowledge', () => {
    it('acknowledges the alarm default id / dedup_key, by the client', () => {
      const result = parsePagerDutyEvent({ routing_key: ROUTING_KEY, dedup_key: 'k1', event_action: 'acknowledge', client: 'Nagios' }, options());

      expect(result).to.deep.equal({ ok: true, dedupKey: 'k1', routingKey: ROUTING_KEY, op: { kind: 'ack', id: 'PagerDuty', source: 'k1', by: 'Nagios', comment: '' } });
    });

    it("acknowledges by 'pagerduty' when the event names no client", () => {
      const result = parsePagerDutyEvent({ routing_key: ROUTING_KEY, dedup_key: 'k1', event_action: 'acknowledge', client: ' ' }, options());

      expect(result.ok && result.op).to.deep.include({ kind: 'ack', by: 'pagerduty' });
    });

    it('ignores a payload', () => {
      const result = parsePagerDutyEvent({ routing_key: ROUTING_KEY, dedup_key: 'k1', event_action: 'acknowledge', payload: { summary: 42 } }, options());

      expect(result.ok).to.equal(true);
    });
  });

  describe('a resolve', () => {
    it('clears the alarm default id / dedup_key, whether or not it exists', () => {
      const result = parsePagerDutyEvent({ routing_key: ROUTING_KEY, dedup_key: 'k1', event_action: 'resolve' }, options());

      expect(result).to.deep.equal({ ok: true, dedupKey: 'k1', routingKey: ROUTING_KEY, op: { kind: 'clear', id: 'PagerDuty', source: 'k1', mustExist: false } });
    });
  });

  describe('an invalid event', () => {
    const cases: [string, unknown, string[]][] = [
      ['is not an object', [trigger()], ['The event must be a JSON object']],
      ['has no routing_key', trigger({ routing_key: undefined }), ["'routing_key' is missing or blank"]],
      ['has a blank routing_key', trigger({ routing_key: '' }), ["'routing_key' is missing or blank"]],
      ['has a routing_key longer than 256', trigger({ routing_key: 'k'.repeat(257) }), ["Length of 'routing_key' is incorrect (should be at most 256 characters)"]],
      ['has a routing_key that is not a string', trigger({ routing_key: 42 }), ["'routing_key' is invalid (must be a string)"]],
      ['has no event_action', trigger({ event_action: undefined }), ["'event_action' is missing or blank"]],
      ['has an unknown event_action', trigger({ event_action: 'snooze' }), ["'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')"]],
      ['is an acknowledge without dedup_key', { routing_key: 'k', event_action: 'acknowledge' }, ["'dedup_key' is missing or blank"]],
      ['is a resolve with a blank dedup_key', { routing_key: 'k', event_action: 'resolve', dedup_key: '' }, ["'dedup_key' is missing or blank"]],
      ['has a dedup_key longer than 255', trigger({ dedup_key: 'd'.repeat(256) }), ["Length of 'dedup_key' is incorrect (should be at most 255 characters)"]],
      ['has a dedup_key that is not a string', trigger({ dedup_key: 7 }), ["'dedup_key' is invalid (must be a string)"]],
      ['has a NUL in its dedup_key', trigger({ dedup_key: 'a\u0000b' }), ["'dedup_key' is invalid (must be valid Unicode without the NUL character)"]],
      ['has a client longer than 256', trigger({ client: 'c'.repeat(257) }), ["Length of 'client' is incorrect (should be at most 256 characters)"]],
      ['is a trigger without payload', trigger({ payload: undefined }), ["'payload' is missing or blank"]],
      ['is a trigger whose payload is not an object', trigger({ payload: 'down' }), ["'payload' is invalid (must be an object)"]],
      ['has no payload.summary', trigger({}, { summary: undefined }), ["'payload.summary' is missing or blank"]],
      ['has a blank payload.summary', trigger({}, { summary: '   ' }), ["'payload.summary' is missing or blank"]],
      ['has a payload.summary longer than 1024', trigger({}, { summary: 's'.repeat(1025) }), ["Length of 'payload.summary' is incorrect (should be at most 1024 characters)"]],
      ['has no payload.source', trigger({}, { source: undefined }), ["'payload.source' is missing or blank"]],
      ['has no payload.severity', trigger({}, { severity: undefined }), ["'payload.severity' is missing or blank"]],
      ['has an unknown payload.severity', trigger({}, { severity: 'high' }), ["'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')"]],
      ['has a payload.component that is not a string', trigger({}, { component: ['db'] }), ["'payload.component' is invalid (must be a string)"]],
      ['has links that are not an array', trigger({ links: { href: 'x' } }), ["'links' is invalid (must be an array)"]],
      ['has images that are not an array', trigger({ images: 'logo.png' }), ["'images' is invalid (must be an array)"]],
      ['has a client_url that is not a string', trigger({ client_url: 1 }), ["'client_url' is invalid (must be a string)"]],
    ];
    for (const [what, body, errors] of cases) {
      it(`is refused, naming the field, when it ${what}`, () => {
        expect(errorsOf(body)).to.deep.equal(errors);
      });
    }

    it('names every problem at once, as PagerDuty does', () => {
      expect(errorsOf({ payload: { severity: 'bad' } })).to.deep.equal(["'routing_key' is missing or blank", "'event_action' is missing or blank"]);
      expect(errorsOf({ routing_key: 'k', event_action: 'trigger', payload: {} })).to.deep.equal([
        "'payload.summary' is missing or blank",
        "'payload.source' is missing or blank",
        "'payload.severity' is missing or blank",
      ]);
    });

    it('is refused when a key of custom_details is __proto__, naming it', () => {
      const body = trigger({}, { custom_details: JSON.parse('{"ok":1,"__proto__":{"x":1}}') });

      expect(errorsOf(body)).to.deep.equal(["'payload.custom_details.__proto__' is invalid (a key named __proto__ is refused: it would not be kept as sent)"]);
    });

    it('is refused when its fields are larger than MAX_FIELDS_BYTES', () => {
      const errors = errorsOf(trigger({}, { custom_details: { blob: 'b'.repeat(MAX_FIELDS_BYTES) } }));

      expect(errors).to.have.length(1);
      expect(errors[0]).to.match(new RegExp(`^The event is too large \\(the alarm's fields must be at most ${MAX_FIELDS_BYTES} bytes as JSON, got \\d+\\)$`));
    });

    it('makes no dedup key for an event it refuses', () => {
      const opts = options();

      parsePagerDutyEvent(trigger({ dedup_key: undefined }, { summary: undefined }), opts);

      expect(opts.made).to.equal(0);
    });
  });
});
