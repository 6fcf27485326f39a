/** Types of the two body-parser modules the JSON text reader uses (exported by its `./lib/*` entry). */
declare module 'body-parser/lib/read' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  /** Reads a body with the options' type check, limit, inflation and charset rule, then hands `parse`'s result to `next` as `req.body`. */
  function read(
    req: IncomingMessage,
    res: ServerResponse,
    next: (err?: unknown) => void,
    parse: (body: string) => unknown,
    debug: (...args: unknown[]) => void,
    options: object,
  ): void;
  export = read;
}

declare module 'body-parser/lib/utils' {
  export function normalizeOptions(options: { limit?: number; type?: string | string[] }, defaultType: string): object;
}
