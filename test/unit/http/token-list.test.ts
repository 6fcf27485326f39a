import { expect } from 'chai';
import { hashToken, parseTokenList } from '../../../src/http/auth.js';

describe('parseTokenList', () => {
  const messageOf = (text: string) => {
    try {
      parseTokenList(text);
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  };

  it('ignores white space around entries', () => {
    expect(parseTokenList(' read:alpha ,\tadmin:beta\n')).to.deep.equal([
      { name: 'env-1-read', role: 'read', sha256: hashToken('alpha') },
      { name: 'env-2-admin', role: 'admin', sha256: hashToken('beta') },
    ]);
  });

  for (const [what, token] of [
    ['a space', 'abc def'],
    ['a tab', 'abc\tdef'],
    ['a line break', 'abc\ndef'],
    ['a space after the colon', ' abcdef'],
    ['a control character', 'abc\u0007def'],
  ] as const) {
    it(`refuses a token holding ${what}, naming the entry by position and name but not the token`, () => {
      const message = messageOf(`read:ok,write:${token}`);

      expect(message).to.match(/^entry 2 \(env-2-write\): the token contains white space or a control character/);
      expect(message).not.to.match(/abc|def/);
    });
  }

  it('still refuses an entry without a known role by its position only', () => {
    expect(messageOf('read:ok,root:s3cret')).to.equal('entry 2 must be role:TOKEN with role read, write or admin');
  });
});
