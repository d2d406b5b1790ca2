import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../../lambda/api/errors';
import { apiGatewayModel, openApiDocument } from '../../../lambda/api/openapi';
import { ROUTES, TOKEN_TYPES } from '../../../lambda/api/routes';

const committed = () => JSON.parse(readFileSync(new URL('../../../openapi.json', import.meta.url), 'utf8'));

describe('openapi.json, generated from the contract', () => {
  it('is current: the committed file equals what `npm run openapi` writes', () => {
    expect(committed(), 'run `npm run openapi` and commit openapi.json').toEqual(openApiDocument());
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const api = await SwaggerParser.validate(structuredClone(openApiDocument()) as never);
    expect((api as { openapi: string }).openapi).toBe('3.1.0');
  });

  it('describes every route with SigV4, its example, and every error code it can answer', () => {
    const doc = openApiDocument() as any;
    const codes = new Set<string>();
    for (const type of TOKEN_TYPES) {
      const operation = doc.paths[ROUTES[type].path][ROUTES[type].method.toLowerCase()];
      expect(operation.security).toEqual([{ sigv4: [] }]);
      expect(operation.requestBody.content['application/json'].example).toEqual(ROUTES[type].example);
      // The example is itself a valid request: the contract's schema accepts it.
      expect(ROUTES[type].request.safeParse(ROUTES[type].example).success).toBe(true);
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        if (status === '200') continue;
        for (const code of response.content['application/json'].schema.allOf[1].properties.error.properties
          .code.enum) {
          expect(String(ERRORS[code as keyof typeof ERRORS].status)).toBe(status);
          codes.add(code);
        }
      }
    }
    expect([...codes].sort()).toEqual(
      Object.keys(ERRORS)
        .filter((c) => c !== 'UNKNOWN_TARGET')
        .sort(),
    );
  });
});

describe('API Gateway request models, generated from the contract', () => {
  const allowed = new Set([
    '$schema',
    'type',
    'properties',
    'required',
    'additionalProperties',
    'items',
    'minLength',
    'maxLength',
    'minItems',
    'maxItems',
    'pattern',
    'enum',
    'anyOf',
  ]);
  const keywords = (schema: unknown, found = new Set<string>()): Set<string> => {
    if (schema && typeof schema === 'object') {
      for (const [k, v] of Object.entries(schema)) {
        found.add(k);
        if (k === 'properties') for (const p of Object.values(v as object)) keywords(p, found);
        else if (k === 'items') keywords(v, found);
        else if (k === 'anyOf') for (const p of v as unknown[]) keywords(p, found);
      }
    }
    return found;
  };

  it.each(TOKEN_TYPES)(
    '%s: draft 4, only the keywords API Gateway supports, patterns that compile',
    (type) => {
      const model = apiGatewayModel(ROUTES[type].request);
      expect(model.$schema).toBe('http://json-schema.org/draft-04/schema#');
      expect(model.additionalProperties).toBe(false);
      for (const k of keywords(model)) expect(allowed).toContain(k);
      const patterns = JSON.stringify(model).match(/"pattern":"((?:[^"\\]|\\.)*)"/g) ?? [];
      for (const p of patterns) expect(() => new RegExp(JSON.parse(`{${p}}`).pattern)).not.toThrow();
      // No Unicode property escapes: their meaning differs between regex dialects.
      expect(JSON.stringify(model)).not.toContain('\\\\p{');
    },
  );

  it('refuses an empty scope list and a look-alike instance name already at the gateway', () => {
    const oauth = apiGatewayModel(ROUTES.oauth.request) as any;
    expect(oauth.properties.scopes.minItems).toBe(1);
    const instance = new RegExp(
      (apiGatewayModel(ROUTES.postgres.request) as any).properties.instance.pattern,
    );
    expect(instance.test('reporting_server')).toBe(true);
    expect(instance.test('reporting_ſerver')).toBe(false);
  });
});
