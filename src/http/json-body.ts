/**
 * The two readers of JSON bodies. Every route that reads one uses body-parser's JSON parser
 * (express.json). The routes that parse it off the event loop (the Alertmanager API intake) get
 * its text instead, read by body-parser's own reader with the options its JSON parser uses, so
 * the types taken, the size limit, gzip and deflate, the UTF charsets only, and every error (413,
 * 415, aborted) are those of any JSON body; only JSON.parse is left to the route, whose
 * malformed-JSON error reads as the JSON parser's (`body: malformed JSON: …`).
 */
import express, { type RequestHandler } from 'express';
import read from 'body-parser/lib/read';
import { normalizeOptions } from 'body-parser/lib/utils';
import { AlarmCenterError, Codes } from '../errors.js';

/** The media types a JSON body may be sent as, for both readers. */
export const JSON_TYPES = ['application/json', 'application/*+json'];

const quiet = () => undefined;

/** The JSON body parser of every route that reads one (body-parser, as express.json). */
export function jsonBody(limitBytes: number): RequestHandler {
  return express.json({ limit: limitBytes, type: JSON_TYPES });
}

/** Sets `req.body` to the body's text (undefined without a body or with another type). */
export function jsonTextBody(limitBytes: number): RequestHandler {
  const options = {
    ...normalizeOptions({ limit: limitBytes, type: JSON_TYPES }, 'application/json'),
    // As body-parser's JSON parser: RFC 7159 JSON is UTF-8, -16 or -32.
    isValidCharset: (charset: string) => charset.slice(0, 4) === 'utf-',
  };
  return (req, res, next) => read(req, res, next, (text) => text, quiet, options);
}

/** The error of a body the JSON parser refused, worded as for any route. */
export function malformedJson(message: string): AlarmCenterError {
  return new AlarmCenterError(Codes.InvalidParams, `body: malformed JSON: ${message}`);
}
