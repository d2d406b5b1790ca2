import * as z from 'zod/mini';
import { VERSION } from '../version';
import { ERRORS, type ErrorCode } from './errors';
import { ErrorResponseSchema, RESPONSES } from './responses';
import { MAX_BODY_BYTES, ROUTES, TOKEN_TYPES } from './routes';

type JsonSchema = Record<string, unknown>;

/** Which codes each route can answer (every route can be refused, throttled, or fail upstream). */
const ROUTE_ERRORS: readonly ErrorCode[] = [
  'INVALID_REQUEST',
  'NOT_AUTHORIZED',
  'REVOKED',
  'PAYLOAD_TOO_LARGE',
  'PAT_LIMIT',
  'THROTTLED',
  'SNOWFLAKE_REJECTED',
  'SNOWFLAKE_AUTH_FAILED',
  'OAUTH_REJECTED',
  'OAUTH_SCOPE_EXCEEDED',
  'UPSTREAM_UNAVAILABLE',
  'REVOCATION_LIST_UNAVAILABLE',
  'CONFIG_ERROR',
  'INTERNAL',
];

/**
 * A zod schema as JSON Schema for an OpenAPI 3.1 document (JSON Schema 2020-12), without its `$schema`.
 * Refinements that JSON Schema cannot express (UTF-8 byte length, Unicode control characters) are
 * enforced by the handler only.
 */
function jsonSchema(schema: z.core.$ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io }) as JsonSchema;
  return rest;
}

/**
 * The OpenAPI 3.1 description of the HTTP API, generated from the contract (`routes.ts`, `schemas.ts`,
 * `errors.ts`) and nothing else. `npm run build` writes it to `openapi.json`; a test fails when the
 * committed file differs; the local gateway serves it at `GET /openapi.json`.
 *
 * @example
 * ```ts
 * writeFileSync('openapi.json', `${JSON.stringify(openApiDocument(), null, 2)}\n`);
 * ```
 */
export function openApiDocument(): Record<string, unknown> {
  const schemas: Record<string, JsonSchema> = { Error: jsonSchema(ErrorResponseSchema, 'output') };
  const paths: Record<string, unknown> = {};
  for (const type of TOKEN_TYPES) {
    const route = ROUTES[type];
    const name = type.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase());
    schemas[`${name}Request`] = jsonSchema(route.request, 'input');
    schemas[`${name}Response`] = jsonSchema(RESPONSES[type], 'output');
    const responses: Record<string, unknown> = {
      '200': {
        description: 'The token, with its TTL metadata.',
        content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}Response` } } },
      },
    };
    for (const status of [...new Set(ROUTE_ERRORS.map((code) => ERRORS[code].status))].sort()) {
      const codes = ROUTE_ERRORS.filter((code) => ERRORS[code].status === status);
      responses[String(status)] = {
        description: codes.map((code) => `\`${code}\`: ${ERRORS[code].meaning}`).join(' '),
        ...(status === 429 || status === 503
          ? { headers: { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'integer' } } } }
          : {}),
        content: {
          'application/json': {
            schema: {
              allOf: [
                { $ref: '#/components/schemas/Error' },
                { properties: { error: { properties: { code: { enum: codes } } } } },
              ],
            },
          },
        },
      };
    }
    responses['403'] = {
      ...(responses['403'] as object),
      description: `${(responses['403'] as { description: string }).description} API Gateway itself also answers 403 \`{"message": …}\` with \`x-amzn-ErrorType\` for a missing or bad SigV4 signature.`,
    };
    paths[route.path] = {
      [route.method.toLowerCase()]: {
        operationId: `vend${name}`,
        summary: route.summary,
        security: [{ sigv4: [] }],
        requestBody: {
          required: true,
          description: `JSON, at most ${MAX_BODY_BYTES / 1024} KiB; unknown fields are refused.`,
          content: {
            'application/json': {
              schema: { $ref: `#/components/schemas/${name}Request` },
              example: route.example,
            },
          },
        },
        responses,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Token Vendor',
      version: VERSION,
      description:
        'Short-lived Snowflake credentials (Postgres access tokens, key-pair JWTs, OAuth access tokens) for IAM principals. Every route uses AWS_IAM authorization: sign requests with SigV4 for service execute-api. Every answer carries Cache-Control: no-store and X-Request-Id.',
    },
    servers: [
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com/prod',
        variables: { apiId: { default: 'abc123' }, region: { default: 'us-east-1' } },
      },
      { url: 'http://127.0.0.1:8787', description: 'npm start (the local gateway)' },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          description:
            'AWS Signature Version 4 (AWS4-HMAC-SHA256) for service execute-api, as API Gateway AWS_IAM authorization verifies it. OpenAPI has no native SigV4 scheme; this is the x-amazon-apigateway-authtype convention.',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
      },
    },
  };
}

/**
 * A request schema as an API Gateway request model: JSON Schema draft 4, in the subset API Gateway
 * accepts (type, properties, required, additionalProperties, items, lengths, counts, pattern, enum,
 * anyOf), with nothing else carried over.
 *
 * @example
 * ```ts
 * api.addModel('PostgresRequest', { schema: apiGatewayModel(ROUTES.postgres.request) });
 * ```
 */
export function apiGatewayModel(schema: z.core.$ZodType): JsonSchema {
  return pick(z.toJSONSchema(schema, { target: 'draft-4', io: 'input' }) as JsonSchema, true);
}

const MODEL_KEYWORDS = new Set([
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

function pick(schema: JsonSchema, root = false): JsonSchema {
  const out: JsonSchema = root ? { $schema: 'http://json-schema.org/draft-04/schema#' } : {};
  for (const [key, value] of Object.entries(schema)) {
    if (!MODEL_KEYWORDS.has(key)) continue;
    if (key === 'properties')
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([k, v]) => [k, pick(v)]),
      );
    else if (key === 'items') out[key] = pick(value as JsonSchema);
    else if (key === 'anyOf') out[key] = (value as JsonSchema[]).map((v) => pick(v));
    else out[key] = value;
  }
  return out;
}
