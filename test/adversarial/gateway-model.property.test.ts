import Ajv from 'ajv-draft-04';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apiGatewayModel } from '../../lambda/api/openapi';
import { ROUTES, TOKEN_TYPES } from '../../lambda/api/routes';

/**
 * Property: API Gateway's request model never refuses a body the vendor accepts. The model is a
 * draft-4 JSON Schema generated from the contract and enforced only in AWS (the local gateway does not
 * apply it), so a model stricter than the contract would turn valid calls into 400s in production and
 * nowhere else. The model may be looser (the handler validates again); it must not be stricter.
 */
const ajv = new Ajv({ allErrors: true, strict: false });
const models = Object.fromEntries(
  TOKEN_TYPES.map((type) => {
    const { $schema: _, ...schema } = apiGatewayModel(ROUTES[type].request);
    return [type, ajv.compile(schema)];
  }),
);

// Values near every rule's edges: identifiers (plain, quoted with "" and spaces, Unicode, control and
// format characters, long), Postgres user names (multi-byte, astral, 63/64 bytes), scopes.
const piece = fc.oneof(
  fc.constantFrom('reporting_server', 'REPORTING_SERVER', '_x$1', '"Sales DB"', '"a""b"', '""', '"', ''),
  fc.constantFrom('reporting_user', 'Reporting_User', 'émile', '数据', '😀', 'a\u0000b', 'a\u200bb', 'a b'),
  fc.constantFrom('analytics', 'demo-1.x', '-demo', 'useraccount', 'session:role-any', 'a"b', 'a\\b'),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
const text = fc.oneof(
  piece,
  fc.tuple(piece, piece).map(([a, b]) => a + b),
  fc
    .tuple(fc.constantFrom('a', 'é', '😀', '"'), fc.integer({ min: 1, max: 70 }))
    .map(([c, n]) => c.repeat(n)),
  fc.integer({ min: 60, max: 66 }).map((n) => `"${'x'.repeat(n)}"`),
  fc.integer({ min: 250, max: 260 }).map((n) => 'x'.repeat(n)),
);
// Each route's own fields (a stray field is refused by both, and would only make the run vacuous).
const bodies = {
  postgres: fc.record(
    { instance: text, username: text, connection: text },
    { requiredKeys: ['instance', 'username'] },
  ),
  'snowflake-jwt': fc.record({ connection: text }),
  oauth: fc.record(
    { integration: text, scopes: fc.array(text, { maxLength: 4 }) },
    { requiredKeys: ['integration'] },
  ),
  pat: fc.record(
    {
      target: text,
      role: text,
      lifetimeSeconds: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.double(), fc.constant(300)),
    },
    { requiredKeys: ['target', 'role'] },
  ),
};

describe('API Gateway request models', () => {
  it.each(TOKEN_TYPES)('%s: never stricter than the contract', (type) => {
    let accepted = 0;
    fc.assert(
      fc.property(bodies[type] as fc.Arbitrary<Record<string, unknown>>, (candidate) => {
        if (!ROUTES[type].request.safeParse(candidate).success) return;
        accepted += 1;
        expect(models[type]!(candidate), JSON.stringify({ candidate, errors: models[type]!.errors })).toBe(
          true,
        );
      }),
      { numRuns: 3000 },
    );
    // Not vacuous: the generator reaches bodies the contract accepts.
    expect(accepted).toBeGreaterThan(20);
  });

  it.each(TOKEN_TYPES)('%s: accepts the route example', (type) => {
    expect(ROUTES[type].request.safeParse(ROUTES[type].example).success).toBe(true);
    expect(models[type]!(ROUTES[type].example)).toBe(true);
  });
});
