import { expect } from 'chai';
import { matches, parseMatchers, type Matcher } from '../../../src/intake/matchers.js';

/** The matchers of filter values that must parse, without their compiled regexes. */
function parsed(...filter: string[]): { name: string; op: string; value: string }[] {
  const result = parseMatchers(filter);
  if (!result.ok) throw new Error(result.error);
  return result.matchers.map(({ name, op, value }) => ({ name, op, value }));
}

/** The error of filter values that must not parse. */
function errorOf(...filter: string[]): string {
  const result = parseMatchers(filter);
  if (result.ok) throw new Error('the filter was accepted');
  return result.error;
}

/** Whether labels satisfy the matchers of filter values. */
function filterMatches(labels: Record<string, string>, ...filter: string[]): boolean {
  const result = parseMatchers(filter);
  if (!result.ok) throw new Error(result.error);
  return matches(labels, result.matchers);
}

describe('parseMatchers', () => {
  describe('the operators', () => {
    it('reads =, !=, =~ and !~ with quoted values', () => {
      expect(parsed('alertname="X"', 'severity!="info"', 'job=~"node.*"', 'instance!~"a|b"')).to.deep.equal([
        { name: 'alertname', op: '=', value: 'X' },
        { name: 'severity', op: '!=', value: 'info' },
        { name: 'job', op: '=~', value: 'node.*' },
        { name: 'instance', op: '!~', value: 'a|b' },
      ]);
    });

    it('reads unquoted values, as amtool sends what was typed unquoted', () => {
      expect(parsed('alertname=X', 'severity!=info', 'job=~node.*', 'instance!~a|b')).to.deep.equal([
        { name: 'alertname', op: '=', value: 'X' },
        { name: 'severity', op: '!=', value: 'info' },
        { name: 'job', op: '=~', value: 'node.*' },
        { name: 'instance', op: '!~', value: 'a|b' },
      ]);
    });

    it('compiles a regex for =~ and !~ only', () => {
      const result = parseMatchers(['a=x', 'b=~x']);

      expect(result.ok && result.matchers.map((m: Matcher) => m.regex !== undefined)).to.deep.equal([false, true]);
    });
  });

  describe('values', () => {
    it('drops spaces around the name, the operator and the value', () => {
      expect(parsed('  job  !~  "a b"  ')).to.deep.equal([{ name: 'job', op: '!~', value: 'a b' }]);
    });

    it('unescapes \\", \\\\ and \\n, and keeps other backslashes', () => {
      expect(parsed(String.raw`msg="a \"b\" c\\d\ne\.f"`)).to.deep.equal([{ name: 'msg', op: '=', value: 'a "b" c\\d\ne\\.f' }]);
    });

    it('reads an empty value, quoted or not', () => {
      expect(parsed('a=""', 'b=')).to.deep.equal([
        { name: 'a', op: '=', value: '' },
        { name: 'b', op: '=', value: '' },
      ]);
    });

    it('keeps commas in a value outside braces, as Alertmanager reads one matcher per filter value', () => {
      expect(parsed('a=b,c=d')).to.deep.equal([{ name: 'a', op: '=', value: 'b,c=d' }]);
    });

    it('accepts label names with colons, as Alertmanager does', () => {
      expect(parsed('job:rate=1')).to.deep.equal([{ name: 'job:rate', op: '=', value: '1' }]);
    });
  });

  describe('braces', () => {
    it('reads several comma-separated matchers inside braces', () => {
      expect(parsed('{alertname="X", job=~"node.*",}')).to.deep.equal([
        { name: 'alertname', op: '=', value: 'X' },
        { name: 'job', op: '=~', value: 'node.*' },
      ]);
    });

    it('keeps commas inside quotes, escaped quotes too', () => {
      expect(parsed(String.raw`{msg="a, \"b, c\"", x=y}`)).to.deep.equal([
        { name: 'msg', op: '=', value: 'a, "b, c"' },
        { name: 'x', op: '=', value: 'y' },
      ]);
    });

    it('reads {} as no matcher', () => {
      expect(parsed('{}')).to.deep.equal([]);
    });

    it('refuses an empty matcher between commas', () => {
      expect(errorOf('{a=b,,c=d}')).to.equal('filter[0]: bad matcher format: ');
    });
  });

  describe('regular expressions', () => {
    it('are anchored at both ends, as Prometheus anchors them', () => {
      expect(filterMatches({ job: 'node' }, 'job=~"node"')).to.equal(true);
      expect(filterMatches({ job: 'node-exporter' }, 'job=~"node"')).to.equal(false);
      expect(filterMatches({ job: 'my-node' }, 'job=~"node.*"')).to.equal(false);
    });

    it('anchor every alternative', () => {
      expect(filterMatches({ i: 'a' }, 'i=~"a|b"')).to.equal(true);
      expect(filterMatches({ i: 'xb' }, 'i=~"a|b"')).to.equal(false);
      expect(filterMatches({ i: 'ab' }, 'i!~"a|b"')).to.equal(true);
    });

    it("understand RE2's leading (?i) and (?s) flags", () => {
      expect(filterMatches({ severity: 'CRITICAL' }, 'severity=~"(?i)crit.*"')).to.equal(true);
      expect(filterMatches({ msg: 'a\nb' }, 'msg=~"a.b"')).to.equal(false);
      expect(filterMatches({ msg: 'A\nb' }, 'msg=~"(?si)a.b"')).to.equal(true);
    });

    it("understand RE2's (?P<name>…) groups", () => {
      expect(filterMatches({ job: 'node-1' }, 'job=~"(?P<kind>node)-\\d"')).to.equal(true);
    });

    it('take nested repeats that would make a backtracking engine run for ever', () => {
      expect(filterMatches({ v: `${'a'.repeat(5000)}!` }, 'v=~"(a|aa)*"')).to.equal(false);
      expect(filterMatches({ v: 'prod-eu' }, 'v=~"(prod|staging)-.*"')).to.equal(true);
    });
  });

  describe('invalid filters', () => {
    const cases: [string, string[], string][] = [
      ['without an operator', ['alertname'], 'filter[0]: bad matcher format: alertname'],
      ['with an invalid label name', ['1job=x'], 'filter[0]: bad matcher format: 1job=x'],
      ['with a quoted label name', ['"job"=x'], 'filter[0]: bad matcher format: "job"=x'],
      ['empty', [''], 'filter[0]: bad matcher format: '],
      ['with an unescaped quote inside the value', ['a=x, b="y"'], 'filter[0]: matcher value contains unescaped double quote: x, b="y"'],
      ['with a value missing its closing quote', ['a="x'], 'filter[0]: matcher value contains unescaped double quote: "x'],
      ['with a quote closing an unquoted value', ['a=x"'], 'filter[0]: matcher value contains unescaped double quote: x"'],
      ['with braces around a filter as amtool 0.25 prefixes it', ['alertname={alertname="X"}'], 'filter[0]: matcher value contains unescaped double quote: {alertname="X"}'],
      // RE2's messages, as Go's regexp (so Alertmanager) words them.
      ['with an invalid regex', ['job=~"("'], 'filter[0]: invalid regular expression "(": error parsing regexp: missing closing ): `(`'],
      ['with a backreference', ['job=~"(a)\\\\1"'], 'filter[0]: invalid regular expression "(a)\\\\1": error parsing regexp: invalid escape sequence: `\\1`'],
      ['with a lookahead', ['job=~"a(?=b)b"'], 'filter[0]: invalid regular expression "a(?=b)b": error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
    ];
    for (const [what, filter, error] of cases) {
      it(`is refused, naming the value, ${what}`, () => {
        expect(errorOf(...filter)).to.equal(error);
      });
    }

    it('names the position of the first invalid value', () => {
      expect(errorOf('a=b', '{c=d}', 'e')).to.equal('filter[2]: bad matcher format: e');
    });
  });
});

describe('matches', () => {
  const labels = { alertname: 'HostDown', job: 'node', instance: 'host:9100' };

  it('matches when every matcher does', () => {
    expect(filterMatches(labels, 'alertname=HostDown', 'job=~"no.*"', 'instance!~"other.*"', 'severity!=critical')).to.equal(true);
    expect(filterMatches(labels, 'alertname=HostDown', 'job!=node')).to.equal(false);
  });

  it('matches anything with no matcher', () => {
    expect(matches(labels, [])).to.equal(true);
  });

  it('gives a missing label the empty value, as Alertmanager does', () => {
    expect(filterMatches(labels, 'severity=""')).to.equal(true);
    expect(filterMatches(labels, 'severity!=""')).to.equal(false);
    expect(filterMatches(labels, 'job!=""')).to.equal(true);
    expect(filterMatches(labels, 'severity=~".*"')).to.equal(true);
    expect(filterMatches(labels, 'severity=~".+"')).to.equal(false);
  });

  it('compares values exactly for = and !=', () => {
    expect(filterMatches(labels, 'job=Node')).to.equal(false);
    expect(filterMatches(labels, 'job=node.*')).to.equal(false);
  });

  it('finds no inherited property for a label name', () => {
    expect(filterMatches(labels, 'constructor=""')).to.equal(true);
    expect(filterMatches(labels, 'toString=~".+"')).to.equal(false);
  });
});
