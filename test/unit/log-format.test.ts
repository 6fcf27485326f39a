import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger, flushLogs } from '../../src/logger.js';

/** A logger writing into a string, and the lines written so far. */
function capture(format: 'pretty' | 'json') {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const logger = createLogger({ format, out });
  return {
    logger,
    lines(): string[] {
      flushLogs(logger);
      return text.split('\n').filter((l) => l !== '');
    },
  };
}

describe('createLogger', () => {
  describe('with format pretty', () => {
    it('writes the time, the level, the message, then the fields as key=value in their order', () => {
      const { logger, lines } = capture('pretty');

      logger.child({ component: 'http' }).info('request', { method: 'GET', route: '/livez', status: 200, durationMs: 0.41 });

      const [line] = lines();
      expect(line).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info {2}request component=http method=GET route=\/livez status=200 durationMs=0.41$/);
    });

    it('quotes a value with spaces, writes objects as JSON and leaves out fields without a value', () => {
      const { logger, lines } = capture('pretty');

      logger.warn('start failed', { error: 'cannot open the database', detail: { code: 'ENOTDIR' }, token: undefined, config: null });

      const [line] = lines();
      expect(line).to.match(/ warn {2}start failed error="cannot open the database" detail=\{"code":"ENOTDIR"\} config=null$/);
    });

    it('writes one line per entry', () => {
      const { logger, lines } = capture('pretty');

      logger.info('listening', { url: 'http://127.0.0.1:1' });
      logger.error('stopped');

      expect(lines().map((l) => l.replace(/^\S+ /, ''))).to.deep.equal(['info  listening url=http://127.0.0.1:1', 'error stopped']);
    });
  });

  describe('with format json', () => {
    it('writes one JSON object per line', () => {
      const { logger, lines } = capture('json');

      logger.info('listening', { tokens: 0, config: null });

      expect(JSON.parse(lines()[0] as string)).to.include({ level: 'info', message: 'listening', tokens: 0, config: null });
    });
  });
});
