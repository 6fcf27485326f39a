import fs from 'node:fs';
import { expect } from 'chai';
import { usage } from '../../src/config.js';
import { EMBEDDED_SETTING_KEYS, SETTINGS, defaultText, type EmbeddedSettings } from '../../src/settings.js';

/** The rows of the README's configuration table, by key: flag, environment and default cells. */
function readmeRows(): Map<string, { flag: string; env: string; default: string }> {
  const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.split('\n## Configuration\n')[1]?.split('\n## ')[0] ?? '';
  const rows = new Map<string, { flag: string; env: string; default: string }>();
  for (const line of section.split('\n')) {
    const cells = /^\| `([^`]+)` \| (.*?) \| (.*?) \| (.*?) \| /.exec(line);
    if (cells) rows.set(cells[1] as string, { flag: cells[2] as string, env: cells[3] as string, default: cells[4] as string });
  }
  return rows;
}

describe('settings table', () => {
  it('names each environment variable and flag after the key', () => {
    // Each --alertmanager-url names one Alertmanager (the flag repeats); the variable holds a list of URLs.
    const namedApart = new Set(['alertmanagers']);
    for (const s of SETTINGS.filter((row) => !namedApart.has(row.key))) {
      const words = s.key.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`).split(' ');
      expect(s.env, s.key).to.equal(`ALARM_CENTER_${words.join('_').toUpperCase()}`);
      if (s.flag !== null) expect(s.flag, s.key).to.equal(words.join('-'));
    }
  });

  it('gives every setting a default its own schema accepts', () => {
    for (const s of SETTINGS) expect(s.schema.safeParse(undefined).success, s.key).to.equal(true);
  });

  it('marks as embedded exactly the options createAlarmCenter takes', () => {
    expect([...EMBEDDED_SETTING_KEYS].sort()).to.deep.equal(
      [
        'dataDir',
        'store',
        'postgresUrl',
        'durability',
        'queueSize',
        'maxBatch',
        'unhealthyAlarmIds',
        'watchdogAlerts',
        'watchQueueSize',
        'watchHeartbeatMs',
        'watchSendTimeoutMs',
        'maxWatchersPerDomain',
        'maxAlarmsPerScope',
        'maxWatchers',
        'maxAlarms',
        'maxFieldsBytes',
        'historyRetentionDays',
        'historyMaxEntries',
        'clearedRetentionSeconds',
      ].sort(),
    );
    const options: EmbeddedSettings = { dataDir: ':memory:', durability: 'process', unhealthyAlarmIds: ['DiskFull'] };
    // @ts-expect-error the address to listen on is the server's, not the embedded core's
    const server: EmbeddedSettings = { host: '0.0.0.0' };
    expect({ ...options, ...server }).to.include({ dataDir: ':memory:' });
  });
});

describe('README configuration table', () => {
  it('has a row for every setting with its flag, environment variable and default', () => {
    const rows = readmeRows();
    for (const s of SETTINGS) {
      expect(rows.get(s.key), `README row of ${s.key}`).to.deep.equal({
        flag: s.flag === null ? 'none' : `\`--${s.flag}\``,
        env: `\`${s.env}\``,
        default: defaultText(s),
      });
    }
  });

  it('has no row for a setting the table lacks', () => {
    const known = new Set<string>(SETTINGS.map((s) => s.key));
    expect([...readmeRows().keys()].filter((key) => !known.has(key))).to.deep.equal([]);
  });
});

describe('usage', () => {
  it('lists every flag with its value, environment variable and default', () => {
    const text = usage();
    for (const s of SETTINGS) {
      const entry = text.split('\n').find((line) => line.trimEnd().endsWith(` ${s.env}`));
      expect(entry, s.env).to.be.a('string');
      if (s.flag !== null) expect(entry).to.match(new RegExp(`^  --${s.flag}\\b`));
    }
    for (const flag of ['--config FILE', '--help', '--version']) expect(text).to.contain(flag);
    expect(text.replace(/\s+/g, ' ')).to.contain('Default: 30100.').and.to.contain('Default: json; pretty when stdout is a terminal.');
  });

  it('fits a terminal of 80 columns', () => {
    const long = usage()
      .split('\n')
      .filter((line) => line.length > 80);
    expect(long).to.deep.equal([]);
  });
});
