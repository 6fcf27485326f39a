/**
 * The domain folders (alarm, health, watch, event, intake, notify, checks) import nothing from the
 * web layer (src/http) or from the composition root — every file directly in src/ but the shared
 * leaves errors.ts, logger.ts, config-lists.ts and thread-entry.ts. Imports are read with the TypeScript parser: static imports and re-exports (type-only
 * ones too), `import x = require()`, `require()` and dynamic `import()` calls, and import types.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const DOMAIN_FOLDERS = ['alarm', 'health', 'watch', 'event', 'intake', 'notify', 'checks'];
/** Files directly in src/ that every component may import: they import nothing of the project but each other. */
const SHARED_LEAVES = ['errors', 'logger', 'config-lists', 'thread-entry'];

/** One import of a file: its specifier as written, or undefined for a computed `import()`. */
interface Import {
  line: number;
  specifier: string | undefined;
}

const literalText = (node: ts.Node | undefined) => (node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined);

/** Every import of a TypeScript source text. */
function importsOf(fileName: string, text: string): Import[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: Import[] = [];
  const add = (node: ts.Node, specifier: string | undefined) => {
    found.push({ line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, specifier });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || (ts.isExportDeclaration(node) && node.moduleSpecifier)) {
      add(node, literalText(node.moduleSpecifier));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, literalText(node.moduleReference.expression));
    } else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      add(node, literalText(node.arguments[0]));
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, literalText(node.argument.literal));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The source file a relative specifier names (`./x.js` is `./x.ts`); undefined for a package. */
function resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  return path.resolve(path.dirname(from), specifier.replace(/\.(m|c)?js$/, '.ts'));
}

/** Why a file may not import `target`, or undefined when it may. */
function forbidden(target: string): string | undefined {
  const rel = path.relative(SRC, target);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  const [first, ...rest] = rel.split(path.sep);
  if (first === 'http') return 'the web layer';
  if (rest.length === 0 && !SHARED_LEAVES.includes((first as string).replace(/\.ts$/, ''))) return 'the composition root';
  return undefined;
}

/** The forbidden imports of a file, each as `file:line imports 'specifier' (what it is)`. */
function violationsOf(file: string, text: string): string[] {
  const name = path.relative(path.dirname(SRC), file).split(path.sep).join('/');
  return importsOf(file, text).flatMap(({ line, specifier }) => {
    if (specifier === undefined) return [`${name}:${line} imports a computed module name, which cannot be checked`];
    const target = resolve(file, specifier);
    const why = target && forbidden(target);
    return why ? [`${name}:${line} imports '${specifier}' (${why})`] : [];
  });
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

describe('architecture', () => {
  describe('the domain folders', () => {
    for (const folder of DOMAIN_FOLDERS) {
      it(`src/${folder} imports nothing from src/http or the composition root`, () => {
        const files = sourceFiles(path.join(SRC, folder));
        const imports = files.flatMap((f) => importsOf(f, fs.readFileSync(f, 'utf8')));
        // A scan that reads nothing would pass: the folder has files, and they import something.
        expect(files.length, `files in src/${folder}`).to.be.above(0);
        expect(imports.length, `imports found in src/${folder}`).to.be.above(0);

        const violations = files.flatMap((f) => violationsOf(f, fs.readFileSync(f, 'utf8')));
        expect(violations.join('\n'), 'forbidden imports').to.equal('');
      });
    }

    it('may import the shared leaves, errors.ts and logger.ts, and each other', () => {
      const file = path.join(SRC, 'watch', 'example.ts');
      const text = [
        "import { AlarmCenterError } from '../errors.js';",
        "import { createSilentLogger } from '../logger.js';",
        "import type { ErrorCode } from '../errors';",
        "import type { Scope } from '../alarm/model.js';",
        "export { Bus } from '../event/bus.js';",
        "import winston from 'winston';",
      ].join('\n');

      expect(violationsOf(file, text)).to.deep.equal([]);
    });
  });

  describe('the import scan', () => {
    it('names the file, the line and the import of every form that reaches src/http or the root', () => {
      const file = path.join(SRC, 'alarm', 'example.ts');
      const text = [
        "import { createApp } from '../app.js';",
        "import type { Route } from '../http/route-table.js';",
        "export * from '../http/request.js';",
        "import config = require('../config.js');",
        'async function later(name: string) {',
        "  await import('../server.js');",
        '  await import(`../http/${name}.js`);',
        "  return require('../center');",
        '}',
        "type Pipeline = import('../http/pipeline.js').Pipeline;",
      ].join('\n');

      expect(violationsOf(file, text)).to.deep.equal([
        "src/alarm/example.ts:1 imports '../app.js' (the composition root)",
        "src/alarm/example.ts:2 imports '../http/route-table.js' (the web layer)",
        "src/alarm/example.ts:3 imports '../http/request.js' (the web layer)",
        "src/alarm/example.ts:4 imports '../config.js' (the composition root)",
        "src/alarm/example.ts:6 imports '../server.js' (the composition root)",
        'src/alarm/example.ts:7 imports a computed module name, which cannot be checked',
        "src/alarm/example.ts:8 imports '../center' (the composition root)",
        "src/alarm/example.ts:10 imports '../http/pipeline.js' (the web layer)",
      ]);
    });
  });
});
