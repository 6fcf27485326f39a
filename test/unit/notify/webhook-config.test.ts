import { expect } from 'chai';
import { ConfigError, validateConfig } from '../../../src/config.js';
import type { Alarm } from '../../../src/alarm/model.js';
import { publicUrl } from '../../../src/config-lists.js';
import { WebhooksSchema, matchesAlarm, sendsChange } from '../../../src/notify/webhook-config.js';
import { storedAlarm } from '../../helpers/store.js';

const configError = (webhooks: unknown): string => {
  try {
    validateConfig({ webhooks }, { webhooks: 'config file ac.yaml' });
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  return expect.fail('the config was accepted');
};

const alarm = (overrides: Partial<Alarm>) => storedAlarm('A', 1, overrides);

describe('webhook settings', () => {
  describe('WebhooksSchema', () => {
    it('fills the defaults', () => {
      const [hook] = WebhooksSchema.parse([{ name: 'ops', url: 'https://hooks.example/ops' }]);
      expect(hook).to.deep.equal({ name: 'ops', url: 'https://hooks.example/ops', format: 'alarm', sendResolved: true, timeoutSeconds: 10, maxAttempts: 10 });
    });

    it('names the entry and its field in an error, and never repeats the URL, secret or header value', () => {
      const message = configError([
        { name: 'ok', url: 'https://hooks.example/a' },
        { name: 'bad name!', url: 'ftp://user:hunter2@host/x', secret: 'S3CRET', headers: { 'Content-Type': 'text/plain', 'X-Ok': 'V4LUE\n' } },
      ]);
      expect(message).to.contain('invalid setting webhooks[1].name (from config file ac.yaml): must match [A-Za-z0-9._-]{1,64}');
      expect(message).to.contain('webhooks[1].url (from config file ac.yaml): must be an absolute http:// or https:// URL');
      expect(message).to.contain('webhooks[1].headers.Content-Type (from config file ac.yaml): is set by Alarm Center itself');
      expect(message).to.contain('webhooks[1].headers.X-Ok (from config file ac.yaml): the value has a control character');
      for (const secret of ['hunter2', 'S3CRET', 'V4LUE']) expect(message).to.not.contain(secret);
    });

    it('refuses two webhooks of one name, an unknown key, a bad format and out-of-range numbers', () => {
      const message = configError([
        { name: 'a', url: 'http://h/1', format: 'slack', timeoutSeconds: 0, maxAttempts: 1.5 },
        { name: 'b', url: 'http://h/2', match: { minSeverity: 'huge', team: 'x' } },
      ]);
      expect(message).to.match(/webhooks\[0\]\.format \(from config file ac\.yaml\): /);
      expect(message).to.match(/webhooks\[0\]\.timeoutSeconds /);
      expect(message).to.match(/webhooks\[0\]\.maxAttempts /);
      expect(message).to.match(/webhooks\[1\]\.match\.minSeverity /);
      expect(message).to.match(/webhooks\[1\]\.match.*team/);
      const twice = configError([{ name: 'a', url: 'http://h/1' }, { name: 'a', url: 'http://h/2' }]);
      expect(twice).to.equal('invalid setting webhooks[1].name (from config file ac.yaml): another webhook is named a');
    });

    it('is refused from the environment, whose text cannot hold a list of webhooks', () => {
      expect(() => validateConfig({ webhooks: '[]' }, { webhooks: 'ALARM_CENTER_WEBHOOKS' })).to.throw(
        ConfigError,
        'invalid setting webhooks (from ALARM_CENTER_WEBHOOKS): must be a list of webhooks, given in the config file',
      );
    });
  });

  describe('matchesAlarm', () => {
    it('takes every alarm without a match', () => {
      expect(matchesAlarm(undefined, alarm({}))).to.equal(true);
    });

    it('takes exact values or lists, every criterion required', () => {
      const match = { project: 'p1', id: ['A', 'B'], source: 'h1' };
      expect(matchesAlarm(match, alarm({ source: 'h1' }))).to.equal(true);
      expect(matchesAlarm(match, alarm({ source: 'h2' }))).to.equal(false);
      expect(matchesAlarm(match, alarm({ source: 'h1', project: 'p2' }))).to.equal(false);
      expect(matchesAlarm({ domain: ['d1', 'd2'] }, alarm({ domain: 'd2' }))).to.equal(true);
      expect(matchesAlarm({ domain: ['d1', 'd2'] }, alarm({ domain: 'default' }))).to.equal(false);
    });

    it('takes with minSeverity the alarms at least that severe, indeterminate the least', () => {
      const take = (severity: Alarm['severity']) => matchesAlarm({ minSeverity: 'minor' }, alarm({ severity }));
      expect(['critical', 'major', 'minor', 'warning', 'indeterminate'].map((s) => take(s as Alarm['severity']))).to.deep.equal([true, true, true, false, false]);
    });
  });

  describe('sendsChange', () => {
    it('sends no change that leaves its alarm CLEARED when sendResolved is false', () => {
      const cleared = alarm({ status: 'CLEARED', clearedAt: 2000 });
      expect(sendsChange({ sendResolved: false }, cleared)).to.equal(false);
      expect(sendsChange({ sendResolved: true }, cleared)).to.equal(true);
      expect(sendsChange({ sendResolved: false }, alarm({}))).to.equal(true);
    });
  });

  describe('publicUrl', () => {
    it('leaves out the user name and password', () => {
      expect(publicUrl('https://bot:t0ken@hooks.example:8443/in?x=1')).to.equal('https://hooks.example:8443/in?x=1');
    });
  });
});
