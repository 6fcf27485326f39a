import { expect } from 'chai';
import { binGroup, type Bin } from '../helpers/bin.js';

const ALARMS = '/v4/default/admin/alarms';

describe('alarm-center started twice on one data folder', function () {
  this.timeout(30_000);
  const { run, dataDir } = binGroup('second-instance');

  const start = (dir: string) => run(['--port', '0', '--data-dir', dir]);
  const raise = (url: string, id: string) =>
    fetch(`${url}${ALARMS}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, source: 's' }) });
  const ids = async (url: string) => {
    const res = await fetch(`${url}${ALARMS}`);
    expect(res.status).to.equal(200);
    return ((await res.json()) as { alarms: { id: string }[] }).alarms.map((a) => a.id).sort();
  };
  /** What a process printed, log lines and stderr alike. */
  const output = (bin: Bin) => `${bin.stderr}\n${bin.lines.map((l) => JSON.stringify(l)).join('\n')}`;
  /** The exit code of a process that must stop during start-up; fails at once when it listens instead. */
  const refusedStart = async (bin: Bin) => {
    await bin.url().then(
      (url) => expect.fail(`the second started, listening at ${url}`),
      () => undefined,
    );
    return bin.exited;
  };

  it('refuses to start the second, naming the folder and the first process', async () => {
    const dir = dataDir();
    const first = start(dir);
    await first.url();

    const second = start(dir);

    const code = await refusedStart(second);
    expect(code, output(second)).to.be.a('number').that.is.not.equal(0);
    expect(output(second)).to.contain(dir).and.contain(`process ${first.child.pid}`);
  });

  it('leaves the first answering: its raises succeed and it lists its alarms as before', async () => {
    const dir = dataDir();
    const first = start(dir);
    const url = await first.url();
    expect((await raise(url, 'X')).status).to.equal(200);

    const second = start(dir);
    expect(await refusedStart(second), output(second)).to.not.equal(0);

    expect((await raise(url, 'Y')).status).to.equal(200);
    expect((await raise(url, 'X')).status).to.equal(200);
    expect(await ids(url)).to.deep.equal(['X', 'Y']);
    expect(await first.stop()).to.equal(0);
    const restarted = start(dir);
    expect(await ids(await restarted.url())).to.deep.equal(['X', 'Y']);
    expect(await restarted.stop()).to.equal(0);
  });
});
